package replay

import (
	"math"
	"sync"
	"time"
)

// MaxSpeed bounds how many times faster than recorded a replay may run.
const MaxSpeed = 1e6

// clock is the replay's time: a recorded instant that advances speed times
// as fast as the wall clock while running, and stands still while paused.
type clock struct {
	wall func() time.Time

	mu       sync.Mutex
	base     time.Time // replay time at wallBase
	wallBase time.Time
	speed    float64
	running  bool
}

func newClock(wall func() time.Time, start time.Time, speed float64, running bool) *clock {
	return &clock{wall: wall, base: start, wallBase: wall(), speed: speed, running: running}
}

// Now returns the replay time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked(c.wall())
}

func (c *clock) nowLocked(wall time.Time) time.Time {
	if !c.running {
		return c.base
	}
	elapsed := float64(wall.Sub(c.wallBase)) * c.speed
	if elapsed >= math.MaxInt64 {
		return c.base.Add(math.MaxInt64) // 292 years: the end of any night
	}
	return c.base.Add(time.Duration(elapsed))
}

// rebase moves the clock's origin to the present, so that a change of
// speed or state applies from now on. The caller holds c.mu.
func (c *clock) rebase() {
	wall := c.wall()
	c.base = c.nowLocked(wall)
	c.wallBase = wall
}

// State returns the replay time, whether the clock runs, and its speed.
func (c *clock) State() (now time.Time, running bool, speed float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked(c.wall()), c.running, c.speed
}

// Pause stops the clock where it is.
func (c *clock) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rebase()
	c.running = false
}

// Resume starts the clock again from where it stands.
func (c *clock) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rebase()
	c.running = true
}

// SetSpeed changes the speed from now on.
func (c *clock) SetSpeed(speed float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rebase()
	c.speed = speed
}

// Seek sets the replay time to t, running or paused as before.
func (c *clock) Seek(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.base = t
	c.wallBase = c.wall()
}

// Step pauses the clock and sets it to next(now), unless next reports
// false; it returns the new time and whether it moved.
func (c *clock) Step(next func(now time.Time) (time.Time, bool)) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rebase()
	c.running = false
	t, ok := next(c.base)
	if ok {
		c.base = t
	}
	return c.base, ok
}
