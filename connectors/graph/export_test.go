package graph

// SetDownloadURLCacheSize bounds c's download URL cache to n entries (tests of the bound).
func SetDownloadURLCacheSize(c *Conn, n int) { c.urls.max = n }

// DownloadURLsCached is how many download URLs c holds.
func DownloadURLsCached(c *Conn) int { return c.urls.len() }
