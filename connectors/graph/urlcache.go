package graph

import (
	"container/list"
	"sync"
	"time"
)

// Download URLs a walk already got, so that a scan soon after opens the file without
// another metadata call (issue 21).
//
// @microsoft.graph.downloadUrl is pre-authenticated and short-lived: the driveItem resource's
// instance attributes (learn.microsoft.com/graph/api/resources/driveitem) and the download
// docs (driveitem-get-content) describe it as valid for a short period only and not to be
// kept, about an hour in practice. So the cache lives in memory on the Conn only: never in
// job arguments, the database or logs (it is a bearer URL); entries expire after
// downloadURLMaxAge, well inside that life and the same bound the scanner puts on a walk's
// facts (factsMaxAge in internal/gateway); and a URL the service refuses anyway is replaced
// by a fresh one once (object.ReadAt).
//
// It is bounded by downloadURLCacheSize entries, the oldest dropped first, so a walk of a
// million files cannot grow it without limit: files whose URLs were dropped are opened the
// way they were before, with one $select call.
const (
	downloadURLMaxAge    = 15 * time.Minute
	downloadURLCacheSize = 20000
)

type urlEntry struct {
	key  string
	url  string
	size int64
	at   time.Time
}

// urlCache maps drive, item and cTag (or eTag) to a download URL, oldest first.
type urlCache struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	m     map[string]*list.Element
	order *list.List
}

func newURLCache(max int, ttl time.Duration) *urlCache {
	return &urlCache{max: max, ttl: ttl, m: map[string]*list.Element{}, order: list.New()}
}

// urlKey keys a URL by the version of the file it was read with: a file changed since the
// walk has another cTag, so its facts' key finds nothing.
func urlKey(drive, item, tag string) string { return drive + "\x00" + item + "\x00" + tag }

func (c *urlCache) put(key, url string, size int64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		c.order.Remove(e)
	}
	c.m[key] = c.order.PushBack(urlEntry{key: key, url: url, size: size, at: now})
	for c.order.Len() > c.max {
		old := c.order.Front()
		c.order.Remove(old)
		delete(c.m, old.Value.(urlEntry).key)
	}
}

// get returns a fresh entry for key; a stale one is dropped.
func (c *urlCache) get(key string, now time.Time) (urlEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return urlEntry{}, false
	}
	ent := e.Value.(urlEntry)
	if now.Sub(ent.at) > c.ttl || now.Before(ent.at) {
		c.order.Remove(e)
		delete(c.m, key)
		return urlEntry{}, false
	}
	return ent, true
}

func (c *urlCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		c.order.Remove(e)
		delete(c.m, key)
	}
}

func (c *urlCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
