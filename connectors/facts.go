package connectors

import "context"

// FactOpener is implemented by connectors that can open a file for ranged reads from facts
// already read (by a walk or a change feed), saving the metadata call Open makes to learn
// the size or the download location again. Where the provider's answer to that one call
// shows the file changed since f was read, OpenFile returns an *Error of KindChanged and
// the caller reads the facts afresh (Stat) and opens again.
type FactOpener interface {
	OpenFile(ctx context.Context, f File) (Object, error)
}
