package fileshare

// SetBeforeRename lets tests stop an upload between writing its temporary file and the rename.
func SetBeforeRename(c *Conn, f func(tmp string) error) { c.beforeRename = f }
