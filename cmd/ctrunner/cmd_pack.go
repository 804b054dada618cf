package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"ctrunner/store"
)

func packCommand(io streams) *cli.Command {
	return &cli.Command{
		Name:  "pack",
		Usage: "pack a git store's loose objects into a git pack",
		Description: "Writes the loose objects of a git store into one git pack, each version\n" +
			"of a document a delta against the next, checks the pack, then removes the\n" +
			"loose copies. Later packs add only new objects; past a few packs, pack\n" +
			"merges them into one. Repairs what an interrupted pack left. Prints what it\n" +
			"did. A zstd store keeps deltas already and needs no packing.",
		Flags: []cli.Flag{storeFlag()},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return usagef("pack: unexpected argument %q", c.Args().First())
			}
			st, err := openStore(c)
			if err != nil {
				return err
			}
			defer st.Close()
			p, ok := st.(store.Packer)
			if !ok {
				io.warnf("store %s is a %s store: its documents are stored as deltas "+
					"already and need no packing", c.String("store"), store.BackendZstd)
				return nil
			}
			r, err := p.Pack(c.Context)
			for _, line := range r.Repairs {
				fmt.Fprintf(io.stdout, "repaired: %s\n", line)
			}
			if err != nil {
				return err
			}
			if r.Packed == 0 && r.Removed == 0 {
				fmt.Fprintln(io.stdout, "nothing to pack: no loose objects")
				return nil
			}
			if r.Packed > 0 {
				fmt.Fprintf(io.stdout, "packed %d %s into objects/pack/%s\n",
					r.Packed, plural(r.Packed, "object"), r.Pack)
			}
			fmt.Fprintf(io.stdout, "removed %d loose %s\n", r.Removed, plural(r.Removed, "object"))
			if r.Merged > 0 {
				fmt.Fprintf(io.stdout, "merged %d older %s into it\n", r.Merged,
					plural(r.Merged, "pack"))
			}
			_, err = fmt.Fprintf(io.stdout, "objects: %d bytes before, %d bytes after\n",
				r.BytesBefore, r.BytesAfter)
			return err
		},
	}
}
