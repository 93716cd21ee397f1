package content

import "errors"

// ErrEnough is returned by Scanner.Write once every matcher has reached its target count, so
// extraction can stop reading.
var ErrEnough = errors.New("content: every matcher reached its target")

// keepLeft is how much text before the scan position is kept so boundary checks can look
// behind a candidate.
const keepLeft = 8

// maxPending bounds the text held for one matcher waiting for a long candidate to complete.
const maxPending = 64 << 10

// Scanner counts matches in text written to it in chunks of any size. A match split across
// two writes is found: text close to the end of a chunk is kept until enough follows.
type Scanner struct {
	ms     []*Matcher
	target []int // stop counting a matcher at this many; 0 = count all
	counts []int
	pos    []int // per matcher: offset in buf where its next candidate may start
	buf    []byte
	done   bool
}

// NewScanner counts matches of ms. target[i] > 0 lets the scanner stop once matcher i has
// been seen that many times; when all are satisfied Write returns ErrEnough.
func NewScanner(ms []*Matcher, target []int) *Scanner {
	t := make([]int, len(ms))
	copy(t, target)
	return &Scanner{ms: ms, target: t, counts: make([]int, len(ms)), pos: make([]int, len(ms))}
}

// Counts returns the matches counted so far, per matcher.
func (s *Scanner) Counts() []int { return s.counts }

// Write feeds text. It never keeps p.
func (s *Scanner) Write(p []byte) (int, error) {
	if s.done {
		return len(p), ErrEnough
	}
	s.buf = append(s.buf, p...)
	s.scan(false)
	if s.satisfied() {
		s.done = true
		return len(p), ErrEnough
	}
	s.compact()
	return len(p), nil
}

// Close scans the text still held back at the end of the input.
func (s *Scanner) Close() error {
	if !s.done {
		s.scan(true)
		s.done = true
	}
	s.buf = nil
	return nil
}

func (s *Scanner) satisfied() bool {
	for i, t := range s.target {
		if t <= 0 || s.counts[i] < t {
			return false
		}
	}
	return len(s.ms) > 0
}

func (s *Scanner) scan(final bool) {
	for i, m := range s.ms {
		if s.target[i] > 0 && s.counts[i] >= s.target[i] {
			s.pos[i] = len(s.buf)
			continue
		}
		pos := s.pos[i]
		for pos < len(s.buf) {
			loc := m.re.FindIndex(s.buf[pos:])
			if loc == nil {
				if !final {
					// A later match must include text not yet seen, so it starts no earlier
					// than span before the end.
					pos = max(pos, len(s.buf)-m.span)
				} else {
					pos = len(s.buf)
				}
				break
			}
			st, e := pos+loc[0], pos+loc[1]
			if !final && st+m.span > len(s.buf) && len(s.buf)-pos < maxPending {
				// Too close to the end to judge: a candidate could still start anywhere from
				// span before the end, or be this one, longer.
				pos = min(st, max(pos, len(s.buf)-m.span))
				break
			}
			ok, next := m.check(s.buf, st, e)
			if ok {
				s.counts[i]++
			}
			if next <= st {
				next = st + 1
			}
			pos = next
		}
		s.pos[i] = max(pos, 0)
	}
}

// compact drops text every matcher has moved past, keeping a little context before.
func (s *Scanner) compact() {
	low := len(s.buf)
	for _, p := range s.pos {
		low = min(low, p)
	}
	cut := low - keepLeft
	if cut <= 0 {
		return
	}
	n := copy(s.buf, s.buf[cut:])
	s.buf = s.buf[:n]
	for i := range s.pos {
		s.pos[i] -= cut
	}
}
