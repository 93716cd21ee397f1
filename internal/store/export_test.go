package store

// Pending reports a batcher's queued deliveries and whether a commit is running, so tests
// can order events without sleeping.
func (b *DeliveryBatcher) Pending() (queued int, committing bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue), b.committing
}

// Closing reports whether Close has been called.
func (b *DeliveryBatcher) Closing() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// SetForgetBatch makes ForgetDeliveries delete n keys per statement.
func SetForgetBatch(s *Store, n int) { s.forgetBatch = n }
