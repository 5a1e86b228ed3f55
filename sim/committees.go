package sim

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// simEpochCommittees is how many distinct committees an epoch schedule
// cycles through.
const simEpochCommittees = 4

// epochSchedule gives views in epochs of a fixed length, cycling through
// committees that differ in leader seed and, with Config.EpochWeights, in
// weights and membership.
type epochSchedule struct {
	views      model.View
	committees []*committee.Committee
}

func (e *epochSchedule) CommitteeAt(v model.View) (*committee.Committee, error) {
	return e.committees[int(v/e.views)%len(e.committees)], nil
}

// drawWeights gives every identity a weight: 1 without cfg.Weighted, else a
// draw from 1..10 for everyone, faulty identities included. Faulty weights
// are then lowered, heaviest first, until the faulty total is below a third.
func drawWeights(rng *rand.Rand, ids []*identity, weighted bool) ([]uint64, error) {
	w := make([]uint64, len(ids))
	var total, faulty uint64
	for i, idt := range ids {
		w[i] = 1
		if weighted {
			w[i] = 1 + rng.Uint64N(10)
		}
		total += w[i]
		if idt.role != roleHonest {
			faulty += w[i]
		}
	}
	for 3*faulty >= total {
		heaviest := -1
		for i, idt := range ids {
			if idt.role != roleHonest && w[i] > 1 && (heaviest < 0 || w[i] > w[heaviest]) {
				heaviest = i
			}
		}
		if heaviest < 0 {
			return nil, fmt.Errorf("sim: faulty weight %d is not below a third of %d", faulty, total)
		}
		w[heaviest]--
		faulty--
		total--
	}
	return w, nil
}

// buildSchedule makes the committee schedule of a run: one committee, or
// (with EpochViews) a cycle of committees, and with a Scenario the scenario's
// fixed leaders.
func (s *sim) buildSchedule() error {
	cfg := s.cfg
	members := func(weights []uint64, skip int) ([]committee.Member, error) {
		var ms []committee.Member
		for i, idt := range s.ids {
			if i == skip {
				continue
			}
			pop, err := idt.key.ProvePossession()
			if err != nil {
				return nil, err
			}
			ms = append(ms, committee.Member{ID: idt.id, Weight: weights[i], StakingKey: idt.key.PublicKey(), Possession: pop})
		}
		return ms, nil
	}
	base, err := drawWeights(s.rng, s.ids, cfg.Weighted)
	if err != nil {
		return err
	}
	ms, err := members(base, -1)
	if err != nil {
		return err
	}
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], cfg.Seed)
	c, err := committee.New(ms, seed)
	if err != nil {
		return err
	}
	if cfg.Scenario != nil {
		if c, err = cfg.Scenario.leaders(c, s.ids); err != nil {
			return err
		}
	}
	s.genesisCommittee = c
	if cfg.EpochViews <= 0 {
		s.schedule = c
		return nil
	}
	es := &epochSchedule{views: model.View(cfg.EpochViews)}
	for k := 0; k < simEpochCommittees; k++ {
		weights, skip := base, -1
		if cfg.EpochWeights && k > 0 {
			if weights, err = drawWeights(s.rng, s.ids, true); err != nil {
				return err
			}
			if len(s.ids) >= 5 && k%2 == 1 {
				skip = s.leavingMember(weights)
			}
		}
		ms, err := members(weights, skip)
		if err != nil {
			return err
		}
		var es32 [32]byte
		binary.BigEndian.PutUint64(es32[:], cfg.Seed)
		binary.BigEndian.PutUint64(es32[8:], uint64(k))
		ec, err := committee.New(ms, crypto.Sum(es32[:]))
		if err != nil {
			return err
		}
		if faultyWeight(ec, s.ids)*3 >= ec.TotalWeight() {
			return fmt.Errorf("sim: epoch %d breaks the fault bound", k)
		}
		es.committees = append(es.committees, ec)
	}
	s.schedule = es
	return nil
}

// leavingMember picks an honest, never-silent member to leave an epoch's
// committee, if the faulty weight stays below a third without it.
func (s *sim) leavingMember(weights []uint64) int {
	var total, faulty uint64
	for i, idt := range s.ids {
		total += weights[i]
		if idt.role != roleHonest {
			faulty += weights[i]
		}
	}
	for i := len(s.ids) - 1; i >= 0; i-- {
		if s.ids[i].role == roleHonest && 3*faulty < total-weights[i] {
			return i
		}
	}
	return -1
}

func faultyWeight(c *committee.Committee, ids []*identity) uint64 {
	var w uint64
	for _, idt := range ids {
		if idt.role != roleHonest {
			w += c.WeightOf(idt.id)
		}
	}
	return w
}

// committeeAt is the committee of view v (the schedule never fails in the
// simulator).
func (s *sim) committeeAt(v model.View) *committee.Committee {
	c, err := s.schedule.CommitteeAt(v)
	if err != nil {
		panic(fmt.Sprintf("sim: no committee for view %d: %v", v, err))
	}
	return c
}
