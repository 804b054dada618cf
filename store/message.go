package store

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"ctrunner/snapshot"
)

// Keys of the git trailers that carry a snapshot's metadata in its commit
// message.
const (
	keyElection   = "Election"
	keyVersion    = "Version"
	keySource     = "Source"
	keySourceURL  = "Source-URL"
	keyFetchedAt  = "Fetched-At"
	keyTimeSource = "Time-Source"
	keyPrecincts  = "Precincts-Reporting"
	keyDocument   = "Document"
	keySuspect    = "Suspect"
)

// electionListSubject is the subject line of election-list commits.
const electionListSubject = "election list"

// documentHashPrefix separates a document's name from its hash in a
// Document trailer.
const documentHashPrefix = " sha256:"

// oneLine makes s fit on one line of a commit message: invalid UTF-8
// becomes U+FFFD, control characters and line separators become spaces,
// and surrounding space is trimmed.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// suspectLines returns the suspect reasons each made to fit on one line,
// without those left empty, or nil if none is left: the reasons as a
// snapshot's Suspect trailers carry them.
func suspectLines(reasons []string) []string {
	var out []string
	for _, r := range reasons {
		if r = oneLine(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// snapshotMessage returns the commit message that archives a snapshot
// with metadata m. m.Documents must already hold the documents' hashes.
func snapshotMessage(m snapshot.Meta) string {
	var b strings.Builder
	fmt.Fprintf(&b, "election %s version %s", oneLine(string(m.Election)), m.Version)
	if pr := oneLine(m.PrecinctsReporting); pr != "" {
		fmt.Fprintf(&b, ": %s precincts reporting", pr)
	}
	b.WriteString("\n\n")
	writeTrailer(&b, keyElection, string(m.Election))
	writeTrailer(&b, keyVersion, m.Version.String())
	writeTrailer(&b, keySource, string(m.Source))
	writeTrailer(&b, keySourceURL, m.SourceURL)
	writeTrailer(&b, keyFetchedAt, m.FetchedAt.UTC().Format(time.RFC3339Nano))
	writeTrailer(&b, keyTimeSource, m.TimeSource)
	writeTrailer(&b, keyPrecincts, m.PrecinctsReporting)
	for _, reason := range m.Suspect {
		writeTrailer(&b, keySuspect, reason)
	}
	writeDocuments(&b, m.Documents)
	return b.String()
}

// electionListMessage returns the commit message that archives an election
// list with metadata m.
func electionListMessage(m snapshot.Meta) string {
	var b strings.Builder
	b.WriteString(electionListSubject + "\n\n")
	writeTrailer(&b, keySourceURL, m.SourceURL)
	writeTrailer(&b, keyFetchedAt, m.FetchedAt.UTC().Format(time.RFC3339Nano))
	writeDocuments(&b, m.Documents)
	return b.String()
}

// writeTrailer writes "key: value" on a line of its own, unless the value
// is empty once made to fit on one line.
func writeTrailer(b *strings.Builder, key, value string) {
	if value = oneLine(value); value != "" {
		fmt.Fprintf(b, "%s: %s\n", key, value)
	}
}

func writeDocuments(b *strings.Builder, docs map[string]string) {
	names := make([]string, 0, len(docs))
	for name := range docs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		writeTrailer(b, keyDocument, name+documentHashPrefix+docs[name])
	}
}

// parseMessage reads the metadata back from a commit message written by
// snapshotMessage or electionListMessage. It reads the trailers of the last
// paragraph, ignores unknown keys and keeps everything after the first
// ": " of a line as its value, so values may hold colons.
func parseMessage(msg string) (snapshot.Meta, error) {
	m := snapshot.Meta{Documents: map[string]string{}}
	for rest := lastParagraph(msg); rest != ""; {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		key, value, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		if err := setTrailer(&m, key, value); err != nil {
			return m, fmt.Errorf("reading trailer %q: %w", line, err)
		}
	}
	return m, nil
}

func lastParagraph(msg string) string {
	msg = strings.TrimRight(msg, "\n")
	// Look for the last blank line from the end, a line at a time: the
	// trailers are the end of a message, and Log reads thousands.
	for end := len(msg); ; {
		i := strings.LastIndexByte(msg[:end], '\n')
		if i < 0 {
			return ""
		}
		if i > 0 && msg[i-1] == '\n' {
			return msg[i+1:]
		}
		end = i
	}
}

func setTrailer(m *snapshot.Meta, key, value string) error {
	var err error
	switch key {
	case keyElection:
		m.Election, err = snapshot.ParseElectionID(value)
	case keyVersion:
		var v int64
		v, err = strconv.ParseInt(value, 10, 64)
		m.Version = snapshot.Version(v)
	case keySource:
		m.Source = snapshot.Source(value)
	case keySourceURL:
		m.SourceURL = value
	case keyFetchedAt:
		m.FetchedAt, err = time.Parse(time.RFC3339Nano, value)
		m.FetchedAt = m.FetchedAt.UTC()
	case keyTimeSource:
		m.TimeSource = value
	case keyPrecincts:
		m.PrecinctsReporting = value
	case keySuspect:
		m.Suspect = append(m.Suspect, value)
	case keyDocument:
		// The hash is the end of the value: look there first.
		i := len(value) - 2*sha256.Size - len(documentHashPrefix)
		if i <= 0 || value[i:i+len(documentHashPrefix)] != documentHashPrefix {
			i = strings.LastIndex(value, documentHashPrefix)
		}
		if i <= 0 {
			return fmt.Errorf("no %q in document trailer", strings.TrimSpace(documentHashPrefix))
		}
		name, sum := value[:i], value[i+len(documentHashPrefix):]
		if !isHex(sum, 64) {
			return fmt.Errorf("%q is not a SHA-256", sum)
		}
		m.Documents[name] = sum
	}
	return err
}
