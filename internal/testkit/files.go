package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// ReadFile is a file's content; a read error fails the test.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ReplaceFile gives path the content in one step, through a rename in the
// same directory, as configuration management tools do: a reader (a
// process watching the file) never sees half of it. The file is private
// (0600).
func ReplaceFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".new")
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
