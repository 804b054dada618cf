package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"ctrunner/store"
)

func verifyCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check that every archived snapshot reads back exactly",
		Description: "Checks that every election's log reaches its first snapshot and that\n" +
			"every object a snapshot needs is present and sound. --read-data also reads\n" +
			"every document in full and checks its SHA-256 and the snapshot ID: slower.\n" +
			"Each problem is printed on one line (--json: one JSON object per line),\n" +
			"naming the election, version, snapshot, document, object and file; a summary\n" +
			"goes to stderr. Exits 1 if the store is damaged.",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.BoolFlag{Name: "read-data", Usage: "read and re-hash every document"},
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per problem"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return usagef("verify: unexpected argument %q", c.Args().First())
			}
			st, err := openStore(c)
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := store.Verify(c.Context, st,
				store.VerifyOptions{ReadData: c.Bool("read-data")})
			if err != nil {
				return err
			}

			enc := json.NewEncoder(io.stdout)
			for _, p := range r.Problems {
				if c.Bool("json") {
					err = enc.Encode(p)
				} else {
					_, err = fmt.Fprintln(io.stdout, p.String())
				}
				if err != nil {
					return err
				}
			}
			summary := fmt.Sprintf("verified %d %s in %d %s", r.Snapshots,
				plural(r.Snapshots, "snapshot"), r.Elections, plural(r.Elections, "election"))
			if r.Publications > 0 {
				summary += fmt.Sprintf(", %d %s", r.Publications,
					plural(r.Publications, "publication"))
			}
			if r.ElectionLists > 0 {
				summary += fmt.Sprintf(" and %d %s", r.ElectionLists,
					plural(r.ElectionLists, "election list"))
			}
			if n := len(r.Problems); n > 0 {
				return fmt.Errorf("%s: %d %s", summary, n, plural(n, "problem"))
			}
			io.warnf("%s: ok", summary)
			return nil
		},
	}
}

// plural returns word, with an s unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
