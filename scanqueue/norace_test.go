//go:build !race

package scanqueue

const raceEnabled = false
