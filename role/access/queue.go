package access

import "container/heap"

// fifo is a first-in first-out queue on a slice that gives its space back
// as it drains.
type fifo[T any] struct {
	items []T
	head  int
}

func (q *fifo[T]) push(v T) { q.items = append(q.items, v) }

func (q *fifo[T]) len() int { return len(q.items) - q.head }

// front returns the oldest item; ok false when empty.
func (q *fifo[T]) front() (v T, ok bool) {
	if q.len() == 0 {
		return v, false
	}
	return q.items[q.head], true
}

func (q *fifo[T]) pop() (v T, ok bool) {
	if q.len() == 0 {
		return v, false
	}
	v = q.items[q.head]
	var zero T
	q.items[q.head] = zero
	q.head++
	if q.head > 1024 && q.head*2 > len(q.items) {
		q.items = append(q.items[:0:0], q.items[q.head:]...)
		q.head = 0
	}
	return v, true
}

// heightItem is a transaction due at a main-chain height.
type heightItem struct {
	height uint64
	id     [32]byte
	status string // the status the item is for: stale once the entry moved on
}

// heightHeap is a min-heap of heightItems.
type heightHeap []heightItem

func (h heightHeap) Len() int           { return len(h) }
func (h heightHeap) Less(i, j int) bool { return h[i].height < h[j].height }
func (h heightHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *heightHeap) Push(x any)        { *h = append(*h, x.(heightItem)) }
func (h *heightHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

func (h *heightHeap) add(v heightItem) { heap.Push(h, v) }

// popBelow pops the smallest item if its height is at most limit.
func (h *heightHeap) popAtMost(limit uint64) (heightItem, bool) {
	if h.Len() == 0 || (*h)[0].height > limit {
		return heightItem{}, false
	}
	return heap.Pop(h).(heightItem), true
}
