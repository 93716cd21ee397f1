package emulator

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

type channel struct {
	id, resourceID, resourceURI string
	token, address              string
	user                        string // who created it
	driveID                     string // "" = the user's My Drive changes
	expires                     time.Time
	msg                         int64
	stopped                     bool
}

// Channel is a watch channel as the emulator sees it.
type Channel struct {
	ID         string
	ResourceID string
	User       string
	DriveID    string
	Address    string
	Expires    time.Time
	Stopped    bool
	Messages   int64 // message numbers used so far
}

// Delivery is one notification POST and its outcome.
type Delivery struct {
	ChannelID string
	State     string
	Number    int64
	Status    int    // the receiver's HTTP status, 0 when the POST failed
	Err       string // transport error
}

type delivery struct {
	ch     Channel
	token  string
	uri    string
	state  string
	number int64
}

// Channels lists every channel ever created, stopped ones included.
func (s *Server) Channels() []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Channel, 0, len(s.channels))
	for _, c := range s.channels {
		out = append(out, c.view())
	}
	return out
}

// ActiveChannels lists channels neither stopped nor expired.
func (s *Server) ActiveChannels() []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []Channel
	for _, c := range s.channels {
		if !c.stopped && now.Before(c.expires) {
			out = append(out, c.view())
		}
	}
	return out
}

func (c *channel) view() Channel {
	return Channel{ID: c.id, ResourceID: c.resourceID, User: c.user, DriveID: c.driveID, Address: c.address,
		Expires: c.expires, Stopped: c.stopped, Messages: c.msg}
}

// Deliveries returns the notification POSTs made so far.
func (s *Server) Deliveries() []Delivery {
	s.nmu.Lock()
	defer s.nmu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// WaitNotifications blocks until every queued notification has been posted.
func (s *Server) WaitNotifications(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		s.nmu.Lock()
		n := s.pending
		s.nmu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// notifyChange queues a change notification for every live channel whose scope covers c.
// Callers hold s.mu.
func (s *Server) notifyChange(c change) {
	now := s.now()
	for _, ch := range s.channels {
		if ch.stopped || !now.Before(ch.expires) {
			continue
		}
		if ch.driveID != c.driveID || (ch.driveID == "" && ch.user != c.owner) {
			continue
		}
		ch.msg++
		if s.dropNext > 0 {
			s.dropNext--
			continue
		}
		d := delivery{ch: ch.view(), token: ch.token, uri: ch.resourceURI, state: "change", number: ch.msg}
		s.enqueueChaos(d)
		if s.dupNext > 0 {
			s.dupNext--
			s.enqueue(d)
		}
	}
}

func (s *Server) enqueue(d delivery) {
	s.nmu.Lock()
	s.queue = append(s.queue, d)
	s.pending++
	s.nmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Server) deliverLoop() {
	defer close(s.stopped)
	for {
		s.nmu.Lock()
		var d delivery
		ok := len(s.queue) > 0
		if ok {
			d, s.queue = s.queue[0], s.queue[1:]
		}
		s.nmu.Unlock()
		if !ok {
			select {
			case <-s.done:
				return
			case <-s.wake:
			}
			continue
		}
		rec := s.post(d)
		s.nmu.Lock()
		s.deliveries = append(s.deliveries, rec)
		s.pending--
		s.nmu.Unlock()
	}
}

// post sends one notification the way Google does: an empty POST with X-Goog-* headers.
func (s *Server) post(d delivery) Delivery {
	rec := Delivery{ChannelID: d.ch.ID, State: d.state, Number: d.number}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.ch.Address, http.NoBody)
	if err != nil {
		rec.Err = err.Error()
		return rec
	}
	h := req.Header
	h.Set("X-Goog-Channel-ID", d.ch.ID)
	if d.token != "" {
		h.Set("X-Goog-Channel-Token", d.token)
	}
	h.Set("X-Goog-Channel-Expiration", d.ch.Expires.UTC().Format(http.TimeFormat))
	h.Set("X-Goog-Resource-ID", d.ch.ResourceID)
	h.Set("X-Goog-Resource-URI", d.uri)
	h.Set("X-Goog-Resource-State", d.state)
	h.Set("X-Goog-Message-Number", strconv.FormatInt(d.number, 10))
	res, err := s.client.Do(req)
	if err != nil {
		rec.Err = err.Error()
		return rec
	}
	res.Body.Close()
	rec.Status = res.StatusCode
	return rec
}
