package durable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.json")
	if err := WriteFile(path, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "{}" {
		t.Errorf("file holds %q, %v; want {}", data, err)
	}
	if err := WriteFile(path, []byte("[]")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("WriteFile over an existing file = %v, want it refused", err)
	}
	if err := SyncDir(dir); err != nil {
		t.Errorf("SyncDir = %v", err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("SyncDir of a missing folder = nil error")
	}
}
