package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"ctrunner/feed/feedtest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ctrunner": func() {
			os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// TestScripts runs the command-line scenarios in testdata/script. Each
// script gets its own fake CT API over the recorded elections in
// CTRUNNER_API, the recorded folder in $ARCHIVE, and these extra commands:
//
//	fake PATH-AND-QUERY   POST to the fake server's control endpoint
//	dirsum DIR            print a digest of every file under DIR
//	jsoneq A B            compare two files as JSON values
//	gunzip SRC DST        decompress a recorded .gz file
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			srv, err := feedtest.Start(feedtest.TestdataDir())
			if err != nil {
				return err
			}
			env.Defer(func() { srv.Close() })
			env.Setenv("CTRUNNER_API", srv.URL)
			env.Setenv("FAKE", srv.URL)
			env.Setenv("ARCHIVE", feedtest.TestdataDir())
			env.Setenv("CTRUNNER_STORE", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"fake":   cmdFake,
			"dirsum": cmdDirsum,
			"jsoneq": cmdJSONEq,
			"gunzip": cmdGunzip,
		},
	})
}

func cmdFake(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: fake PATH?QUERY")
	}
	u, err := url.JoinPath(ts.Getenv("FAKE"), "_fake")
	ts.Check(err)
	resp, err := http.Post(u+"/"+args[0], "text/plain", nil)
	ts.Check(err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if (resp.StatusCode != http.StatusOK) != neg {
		ts.Fatalf("fake %s: %s: %s", args[0], resp.Status, body)
	}
}

func cmdDirsum(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: dirsum DIR")
	}
	sum, err := dirDigest(ts.MkAbs(args[0]))
	ts.Check(err)
	fmt.Fprintln(ts.Stdout(), sum)
}

// dirDigest hashes the names, modes and contents of every file under dir,
// so two calls give the same answer only if nothing changed.
func dirDigest(dir string) (string, error) {
	h := sha256.New()
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(paths)
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s %v %d\n", rel, fi.Mode(), fi.Size())
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return "", err
			}
			h.Write(data)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func cmdJSONEq(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jsoneq A B")
	}
	var a, b any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &a))
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &b))
	if reflect.DeepEqual(a, b) == neg {
		ts.Fatalf("%s and %s: equal as JSON = %v, want %v", args[0], args[1], !neg, !neg)
	}
}

func cmdGunzip(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: gunzip SRC DST")
	}
	f, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	ts.Check(err)
	data, err := io.ReadAll(zr)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), data, 0o644))
}

// runCLI runs the program in-process and returns its stdout, stderr and
// exit code.
func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"ctrunner"}, args...),
		strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}
