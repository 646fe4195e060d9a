// tlog-verify checks a C2SP tiled transparency log with Go's own note and tlog packages (an outside verifier).
//
// It reads a log laid out in C2SP paths (checkpoint, tile/<L>/<N>[.p/<W>], tile/entries/<N>[.p/<W>])
// from a folder or an http(s) base URL, verifies the checkpoint's signature by the given verifier
// key (note.Open), checks that each given entry index is included in the checkpointed tree (the
// leaf hash taken from its entry bundle, the proof built from the tiles with tlog.TileHashReader,
// checked with tlog.CheckRecord), optionally checks consistency with an older checkpoint
// (tlog.ProveTree/CheckTree), and prints the result as JSON. Any failure exits non-zero with a
// message on stderr.
//
// Build without the module proxy: GO111MODULE=off GOPATH=/usr/share/gocode go build ./tools/tlog-verify
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const maxFile = 1 << 20

// store reads log files by C2SP path from a folder or a base URL.
type store struct {
	base   string
	client *http.Client
}

func (s *store) read(path string) ([]byte, error) {
	if strings.HasPrefix(s.base, "http://") || strings.HasPrefix(s.base, "https://") {
		url := strings.TrimSuffix(s.base, "/") + "/" + path
		resp, err := s.client.Get(url)
		if err != nil {
			return nil, fmt.Errorf("get %s: %v", url, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("get %s: status %s", url, resp.Status)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxFile+1))
		if err != nil {
			return nil, fmt.Errorf("get %s: %v", url, err)
		}
		if len(data) > maxFile {
			return nil, fmt.Errorf("get %s: more than %d bytes", url, maxFile)
		}
		return data, nil
	}
	data, err := os.ReadFile(filepath.Join(s.base, filepath.FromSlash(path)))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("%s: more than %d bytes", path, maxFile)
	}
	return data, nil
}

// c2spPath maps Go's tile/8/L/N and tile/8/data/N to C2SP's tile/L/N and tile/entries/N.
func c2spPath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), "tile/8/")
	if strings.HasPrefix(p, "data/") {
		p = "entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

// tileReader serves tlog's TileHashReader from the store.
type tileReader struct{ s *store }

func (r tileReader) Height() int { return 8 }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := r.s.read(c2spPath(t))
		if err != nil {
			return nil, err
		}
		if len(data) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s: %d bytes, want %d", c2spPath(t), len(data), t.W*tlog.HashSize)
		}
		out[i] = data
	}
	return out, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// openCheckpoint verifies the note's signature by the verifier and parses origin, size, root strictly.
func openCheckpoint(msg []byte, verifier note.Verifier, origin string) (tlog.Tree, error) {
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("checkpoint signature: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return tlog.Tree{}, errors.New("checkpoint text is not exactly origin, size and root lines")
	}
	if lines[0] != origin {
		return tlog.Tree{}, fmt.Errorf("checkpoint origin is %q, want %q", lines[0], origin)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return tlog.Tree{}, fmt.Errorf("checkpoint size %q is not a decimal number", lines[1])
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("checkpoint root %q: %v", lines[2], err)
	}
	return tlog.Tree{N: size, Hash: root}, nil
}

// entry returns entry i of the tree of size n from its entry bundle.
func entry(s *store, i, n int64) ([]byte, error) {
	bundle := i / 256
	width := n - bundle*256
	if width > 256 {
		width = 256
	}
	t := tlog.Tile{H: 8, L: -1, N: bundle, W: int(width)}
	path := c2spPath(t)
	data, err := s.read(path)
	if err != nil {
		return nil, err
	}
	var entries [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, fmt.Errorf("%s: truncated length", path)
		}
		l := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+l {
			return nil, fmt.Errorf("%s: entry %d cut short", path, len(entries))
		}
		entries = append(entries, data[2:2+l])
		data = data[2+l:]
	}
	if int64(len(entries)) != width {
		return nil, fmt.Errorf("%s: %d entries, want %d", path, len(entries), width)
	}
	return entries[i%256], nil
}

type treeJSON struct {
	Size int64  `json:"size"`
	Root string `json:"root"`
}

type result struct {
	Origin         string    `json:"origin"`
	Size           int64     `json:"size"`
	Root           string    `json:"root"`
	Included       []int64   `json:"included"`
	ConsistentWith *treeJSON `json:"consistent_with"`
}

func run() error {
	logFlag := flag.String("log", "", "folder or http(s) base URL of the log (C2SP paths)")
	vkey := flag.String("vkey", "", "verifier key of the log: <name>+<hex id>+<base64 key>")
	origin := flag.String("origin", "", "the log's origin (checkpoint first line)")
	indexes := flag.String("index", "", "comma-separated entry indexes to prove included")
	checkpointFile := flag.String("checkpoint", "", "read the checkpoint from this file instead of <log>/checkpoint")
	oldFile := flag.String("old", "", "an older checkpoint file to prove consistent with the current one")
	flag.Parse()
	if *logFlag == "" || *vkey == "" || *origin == "" {
		return errors.New("usage: tlog-verify -log DIR|URL -vkey KEY -origin ORIGIN [-index 1,2] [-checkpoint FILE] [-old FILE]")
	}
	verifier, err := note.NewVerifier(*vkey)
	if err != nil {
		return fmt.Errorf("verifier key: %v", err)
	}
	if verifier.Name() != *origin {
		return fmt.Errorf("verifier key is named %q, not the origin %q", verifier.Name(), *origin)
	}
	s := &store{base: *logFlag, client: &http.Client{Timeout: 30 * time.Second}}
	var msg []byte
	if *checkpointFile != "" {
		msg, err = os.ReadFile(*checkpointFile)
	} else {
		msg, err = s.read("checkpoint")
	}
	if err != nil {
		return fmt.Errorf("read checkpoint: %v", err)
	}
	tree, err := openCheckpoint(msg, verifier, *origin)
	if err != nil {
		return err
	}
	out := result{Origin: *origin, Size: tree.N, Root: tree.Hash.String(), Included: []int64{}}
	thr := tlog.TileHashReader(tree, tileReader{s})
	if *indexes != "" {
		for _, field := range strings.Split(*indexes, ",") {
			i, err := strconv.ParseInt(field, 10, 64)
			if err != nil || i < 0 {
				return fmt.Errorf("index %q is not a non-negative number", field)
			}
			if i >= tree.N {
				return fmt.Errorf("index %d is not in the tree of size %d", i, tree.N)
			}
			data, err := entry(s, i, tree.N)
			if err != nil {
				return fmt.Errorf("entry %d: %v", i, err)
			}
			proof, err := tlog.ProveRecord(tree.N, i, thr)
			if err != nil {
				return fmt.Errorf("inclusion proof of %d: %v", i, err)
			}
			if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, tlog.RecordHash(data)); err != nil {
				return fmt.Errorf("entry %d is not included: %v", i, err)
			}
			out.Included = append(out.Included, i)
		}
	}
	if *oldFile != "" {
		oldMsg, err := os.ReadFile(*oldFile)
		if err != nil {
			return fmt.Errorf("read old checkpoint: %v", err)
		}
		old, err := openCheckpoint(oldMsg, verifier, *origin)
		if err != nil {
			return fmt.Errorf("old checkpoint: %v", err)
		}
		switch {
		case old.N > tree.N:
			return fmt.Errorf("old checkpoint (size %d) is newer than the current one (%d)", old.N, tree.N)
		case old.N == 0:
			if old.Hash != tlog.Hash(sha256.Sum256(nil)) {
				return errors.New("old checkpoint of size 0 does not have the empty root")
			}
		default:
			proof, err := tlog.ProveTree(tree.N, old.N, thr)
			if err != nil {
				return fmt.Errorf("consistency proof: %v", err)
			}
			if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
				return fmt.Errorf("old checkpoint is not consistent with the current one: %v", err)
			}
		}
		out.ConsistentWith = &treeJSON{Size: old.N, Root: old.Hash.String()}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tlog-verify:", err)
		os.Exit(1)
	}
}
