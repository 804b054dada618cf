package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRememberedPublishDirStaysWithItsStore: the publish folder watch
// used is remembered in the store folder, so a copy of the store (a
// backup, a rehearsal copy, a zstd replica) carries it along. Publishing
// in the copy must not swap the folder the original store publishes to;
// publishing in the original still does.
func TestRememberedPublishDirStaysWithItsStore(t *testing.T) {
	dir := importedStore(t)
	pub := filepath.Join(t.TempDir(), "pub")
	if err := os.Mkdir(pub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := rememberPublishDir(dir, pub); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", dir, cp).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}

	_, stderr, code := runCLI(t, "", "publish", "24", "--store", cp)
	if code != 0 {
		t.Fatalf("publish in the copy: exit %d: %s", code, stderr)
	}
	if _, err := os.Lstat(filepath.Join(pub, "24")); err == nil {
		t.Errorf("publish in a copy of the store swapped the original's publish folder")
	}
	if !strings.Contains(stderr, pub) {
		t.Errorf("publish in the copy did not say why it left %s alone: %q", pub, stderr)
	}

	if _, stderr, code := runCLI(t, "", "publish", "24", "--store", dir); code != 0 {
		t.Fatalf("publish: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(pub, "24", "raw.json")); err != nil {
		t.Errorf("publish in the store watch used left its publish folder alone: %v", err)
	}
}
