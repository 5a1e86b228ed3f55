// Package bench holds the benchmarks behind 'floe bench': the follower
// engine ingesting a long certified chain (RunFollower) and the light
// client fast-forwarding across epochs (RunLight). Each builds its own
// synthetic chain with real BLS keys (internal/testchain), measures, and
// returns a report that prints as JSON or as text.
package bench
