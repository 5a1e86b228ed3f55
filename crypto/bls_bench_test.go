package crypto

import (
	"encoding/binary"
	"fmt"
	"testing"
)

var benchSizes = []int{4, 10, 100}

func benchMsg(view uint64) []byte {
	m := Sum([]byte("block"), binary.BigEndian.AppendUint64(nil, view))
	return binary.BigEndian.AppendUint64(m[:], view) // 40 bytes, like a vote
}

func benchSign(b *testing.B, s Scheme) {
	sks, _ := testKeys(b, s, 1)
	msg := benchMsg(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sks[0].Sign(DomainVote, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func benchVerifyVote(b *testing.B, s Scheme) {
	sks, pks := testKeys(b, s, 1)
	msg := benchMsg(1)
	sig := mustSign(b, sks[0], DomainVote, msg)
	b.ReportAllocs()
	for b.Loop() {
		if err := pks[0].Verify(DomainVote, msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// benchVerifyQC measures what checking a QC costs a replica: aggregating the
// signers' cached keys, then one verification over the common message.
func benchVerifyQC(b *testing.B, s Scheme) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			sks, pks := testKeys(b, s, n)
			msg := benchMsg(7)
			sigs := make([][]byte, n)
			for i, sk := range sks {
				sigs[i] = mustSign(b, sk, DomainVote, msg)
			}
			agg := mustAggregate(b, s, sigs)
			b.ReportAllocs()
			for b.Loop() {
				aggPK, err := s.AggregatePublicKeys(pks)
				if err != nil {
					b.Fatal(err)
				}
				if err := aggPK.Verify(DomainVote, msg, agg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchVerifyTC measures a TC: signers spread over up to three distinct
// newest-QC views (realistic after a few failed views), keys grouped per
// message, then one multi-message aggregate verification.
func benchVerifyTC(b *testing.B, s Scheme) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			groups := min(n, 3)
			sks, pks := testKeys(b, s, n)
			msgs := make([][]byte, groups)
			for g := range groups {
				msgs[g] = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, 50), uint64(40+g))
			}
			sigs := make([][]byte, n)
			for i, sk := range sks {
				sigs[i] = mustSign(b, sk, DomainTimeout, msgs[i%groups])
			}
			agg := mustAggregate(b, s, sigs)
			groupPKs := make([][]PublicKey, groups)
			keys := make([]PublicKey, groups)
			b.ReportAllocs()
			for b.Loop() {
				for g := range groupPKs {
					groupPKs[g] = groupPKs[g][:0]
				}
				for i, pk := range pks {
					groupPKs[i%groups] = append(groupPKs[i%groups], pk)
				}
				for g := range groups {
					k, err := s.AggregatePublicKeys(groupPKs[g])
					if err != nil {
						b.Fatal(err)
					}
					keys[g] = k
				}
				if err := s.VerifyAggregate(DomainTimeout, keys, msgs, agg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchAggregateSignatures(b *testing.B, s Scheme, n int) {
	sks, _ := testKeys(b, s, n)
	msg := benchMsg(3)
	sigs := make([][]byte, n)
	for i, sk := range sks {
		sigs[i] = mustSign(b, sk, DomainVote, msg)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.AggregateSignatures(sigs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBLSSign(b *testing.B)       { benchSign(b, BLS()) }
func BenchmarkBLSVerifyVote(b *testing.B) { benchVerifyVote(b, BLS()) }
func BenchmarkBLSVerifyQC(b *testing.B)   { benchVerifyQC(b, BLS()) }
func BenchmarkBLSVerifyTC(b *testing.B)   { benchVerifyTC(b, BLS()) }
func BenchmarkBLSAggregateSignatures(b *testing.B) {
	b.Run("100", func(b *testing.B) { benchAggregateSignatures(b, BLS(), 100) })
}

func BenchmarkBLSDecodePublicKey(b *testing.B) {
	_, pks := testKeys(b, BLS(), 1)
	enc := pks[0].Bytes()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BLS().DecodePublicKey(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFastSign(b *testing.B)       { benchSign(b, Fast()) }
func BenchmarkFastVerifyVote(b *testing.B) { benchVerifyVote(b, Fast()) }
func BenchmarkFastVerifyQC(b *testing.B)   { benchVerifyQC(b, Fast()) }
func BenchmarkFastVerifyTC(b *testing.B)   { benchVerifyTC(b, Fast()) }
func BenchmarkFastAggregateSignatures(b *testing.B) {
	b.Run("100", func(b *testing.B) { benchAggregateSignatures(b, Fast(), 100) })
}

func BenchmarkSum(b *testing.B) {
	a, c := make([]byte, 32), make([]byte, 40)
	b.ReportAllocs()
	for b.Loop() {
		_ = Sum(a, c)
	}
}
