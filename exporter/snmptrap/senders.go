package snmptrap

import (
	"container/list"
	"time"
)

// Bounds of the state kept about senders: whoever can reach the trap port
// (with the community, from an allowed address) must not be able to grow
// it without limit.
const (
	maxSenders = 1024  // remembered sending hosts; the least recently heard is evicted
	maxGuests  = 10000 // remembered remote guests, all senders together
)

// sender is what the receiver remembers of one sending host.
type sender struct {
	host     string
	events   map[string]float64 // by lifecycle event
	guests   map[string]guest   // by UUID
	lastTrap time.Time          // last authenticated trap of any kind
	elem     *list.Element
}

type guest struct {
	name  string
	state int32
}

// senders is an LRU of sender state, bounded by maxSenders and, through
// their guests, by maxGuests (r.mu held for every method).
type senders struct {
	byHost    map[string]*sender
	lru       *list.List // of *sender, most recently heard first
	guests    int
	evictions map[string]float64 // by kind: "sender", "guest"
}

func newSenders() *senders {
	return &senders{byHost: make(map[string]*sender), lru: list.New(), evictions: map[string]float64{"sender": 0, "guest": 0}}
}

// touch returns host's state, created if new, as the most recently heard.
func (s *senders) touch(host string, now time.Time) *sender {
	sd, ok := s.byHost[host]
	if ok {
		s.lru.MoveToFront(sd.elem)
	} else {
		for len(s.byHost) >= maxSenders {
			s.evict(s.lru.Back().Value.(*sender))
		}
		sd = &sender{host: host, events: make(map[string]float64), guests: make(map[string]guest)}
		sd.elem = s.lru.PushFront(sd)
		s.byHost[host] = sd
	}
	sd.lastTrap = now
	return sd
}

// remember records a guest's state. A new guest beyond maxGuests evicts
// the least recently heard other senders first; if sd alone holds them
// all, the guest is not remembered (it is still counted and fast-pathed).
func (s *senders) remember(sd *sender, uuid string, g guest) {
	if _, ok := sd.guests[uuid]; !ok {
		for s.guests >= maxGuests && s.lru.Back() != sd.elem {
			s.evict(s.lru.Back().Value.(*sender))
		}
		if s.guests >= maxGuests {
			s.evictions["guest"]++
			return
		}
		s.guests++
	}
	sd.guests[uuid] = g
}

// forget drops a guest that no longer exists.
func (s *senders) forget(sd *sender, uuid string) {
	if _, ok := sd.guests[uuid]; ok {
		delete(sd.guests, uuid)
		s.guests--
	}
}

func (s *senders) evict(sd *sender) {
	s.lru.Remove(sd.elem)
	delete(s.byHost, sd.host)
	s.guests -= len(sd.guests)
	s.evictions["sender"]++
}
