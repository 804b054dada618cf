package store

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"ctrunner/snapshot"
)

// minPrefix is the shortest snapshot-ID prefix Resolve accepts.
const minPrefix = 4

// minDigitPrefix is the shortest all-digit text Resolve reads as a
// snapshot-ID prefix rather than as an election ID.
const minDigitPrefix = 7

// maxListed bounds how many versions or candidates an error lists.
const maxListed = 10

// Resolve finds the snapshot that ref names. A ref is one of:
//
//	80        the latest snapshot of election 80
//	80@13392  the newest snapshot of election 80 with API version 13392
//	80~2      the snapshot two before the latest of election 80
//	1f3a9c    a snapshot ID prefix
//
// A text of hex digits is a snapshot-ID prefix when it has at least 4
// characters and either holds a letter a-f or has at least 7 digits;
// shorter all-digit texts are election IDs. A prefix may match several
// entries when the same documents were archived more than once; Resolve
// picks the newest of them if they share one ID and one election, and
// reports the prefix as ambiguous otherwise. The errors for a missing
// election, version or snapshot wrap ErrNotFound.
func Resolve(s Store, ref string) (Entry, error) {
	ref = strings.TrimSpace(ref)
	if isIDPrefix(ref) {
		return resolvePrefix(s, strings.ToLower(ref))
	}
	if election, version, ok := strings.Cut(ref, "@"); ok {
		id, err := parseRefElection(ref, election)
		if err != nil {
			return Entry{}, err
		}
		v, err := strconv.ParseInt(version, 10, 64)
		if err != nil {
			return Entry{}, badRef(ref)
		}
		return resolveVersion(s, id, snapshot.Version(v))
	}
	if election, back, ok := strings.Cut(ref, "~"); ok {
		id, err := parseRefElection(ref, election)
		if err != nil {
			return Entry{}, err
		}
		n, err := strconv.Atoi(back)
		if err != nil || n < 0 {
			return Entry{}, badRef(ref)
		}
		return resolveBack(s, ref, id, n)
	}
	id, err := parseRefElection(ref, ref)
	if err != nil {
		return Entry{}, err
	}
	return resolveBack(s, ref, id, 0)
}

// ErrBadRef is wrapped by the error Resolve returns for a ref that has
// none of the accepted forms, as opposed to one naming nothing stored.
var ErrBadRef = errors.New("invalid snapshot reference")

// refError is the error for a malformed ref.
type refError struct{ ref string }

func (e *refError) Error() string {
	return fmt.Sprintf("invalid snapshot reference %q "+
		"(use 80, 80@13392, 80~2 or a snapshot ID prefix of 4+ hex digits)", e.ref)
}

func (e *refError) Is(target error) bool { return target == ErrBadRef }

func badRef(ref string) error { return &refError{ref: ref} }

func parseRefElection(ref, election string) (snapshot.ElectionID, error) {
	id, err := snapshot.ParseElectionID(election)
	if err != nil {
		return "", badRef(ref)
	}
	return id, nil
}

// isIDPrefix reports whether ref reads as a snapshot-ID prefix.
func isIDPrefix(ref string) bool {
	if len(ref) < minPrefix || len(ref) > 2*len(snapshot.Hash{}) {
		return false
	}
	letter := false
	for _, r := range strings.ToLower(ref) {
		switch {
		case r >= 'a' && r <= 'f':
			letter = true
		case r < '0' || r > '9':
			return false
		}
	}
	return letter || len(ref) >= minDigitPrefix
}

// logOf is Store.Log, with an empty log reported like a missing election.
func logOf(s Store, id snapshot.ElectionID) ([]Entry, error) {
	entries, err := s.Log(id)
	if err == nil && len(entries) == 0 {
		err = notFoundf("election %s has no snapshots in this store", id)
	}
	return entries, err
}

func resolveBack(s Store, ref string, id snapshot.ElectionID, n int) (Entry, error) {
	entries, err := logOf(s, id)
	if err != nil {
		return Entry{}, err
	}
	if n >= len(entries) {
		return Entry{}, notFoundf("%s: election %s has only %d %s",
			ref, id, len(entries), plural(len(entries), "snapshot"))
	}
	return entries[n], nil
}

func resolveVersion(s Store, id snapshot.ElectionID, v snapshot.Version) (Entry, error) {
	entries, err := logOf(s, id)
	if err != nil {
		return Entry{}, err
	}
	var versions []snapshot.Version
	for _, e := range entries {
		if e.Version == v {
			return e, nil
		}
		versions = append(versions, e.Version)
	}
	slices.Sort(versions)
	versions = slices.Compact(versions)
	list := make([]string, 0, maxListed+1)
	for i, ver := range versions {
		if i == maxListed {
			list = append(list, "...")
			break
		}
		list = append(list, ver.String())
	}
	return Entry{}, notFoundf("election %s has no snapshot of version %s (versions: %s)",
		id, v, strings.Join(list, ", "))
}

func resolvePrefix(s Store, prefix string) (Entry, error) {
	elections, err := s.Elections()
	if err != nil {
		return Entry{}, err
	}

	// Collect the newest matching entry of each (election, ID) pair: logs
	// are newest first.
	type key struct {
		election snapshot.ElectionID
		id       snapshot.Hash
	}
	var found []Entry
	seen := map[key]bool{}
	for _, election := range elections {
		entries, err := s.Log(election)
		if errors.Is(err, ErrNotFound) {
			continue // the branch vanished since Elections
		}
		if err != nil {
			return Entry{}, err
		}
		for _, e := range entries {
			k := key{election, e.ID}
			if strings.HasPrefix(e.ID.String(), prefix) && !seen[k] {
				seen[k] = true
				found = append(found, e)
			}
		}
	}

	switch len(found) {
	case 0:
		return Entry{}, notFoundf("no snapshot ID starts with %q", prefix)
	case 1:
		return found[0], nil
	}
	list := make([]string, 0, maxListed+1)
	for i, e := range found {
		if i == maxListed {
			list = append(list, "...")
			break
		}
		list = append(list, fmt.Sprintf("%s (election %s version %s)",
			e.ID.Short(), e.Election, e.Version))
	}
	return Entry{}, fmt.Errorf("snapshot ID prefix %q is ambiguous: %d snapshots match: %s",
		prefix, len(found), strings.Join(list, ", "))
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
