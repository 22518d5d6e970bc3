package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/eddy-streams/eddy/cmd/eddy/internal/state"
)

const stateUsage = `Usage: eddy state -state-dir DIR -application-id APP COMMAND [flags]

Reads the local stores of a stopped instance, in <state-dir>/<application id>. It takes
the directory's lock, so it refuses a directory that a running instance uses (and the
instance cannot start while it reads), and it opens the stores read-only.

Commands:
  tasks                                    the tasks, their stores, kinds, entries and
                                           committed changelog offsets
  get  -task T -store S -key K             the value of a key (every window or session
                                           of the key in a window or session store)
  scan -task T -store S [-from K1] [-to K2] [-limit N]
                                           the entries from K1 to K2, both included
Run "eddy state ... get -h" for the flags of get and scan: the serdes of keys and values
(` + "raw, string, bytes, int64, int32, float64, json" + `) and -timestamped for the DSL's
stores.

Flags:
`

func runState(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eddy state", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), stateUsage); fs.PrintDefaults() }
	stateDir := fs.String("state-dir", "", "the instance's state `directory` (eddy.StateDir) (required)")
	app := fs.String("application-id", "", "the application id (eddy.ApplicationID) (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *stateDir == "":
		return usagef("-state-dir is required")
	case *app == "":
		return usagef("-application-id is required")
	case fs.NArg() == 0:
		return usagef("a command is required: tasks, get or scan")
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	var q *query
	switch cmd {
	case "tasks":
		if len(rest) > 0 {
			return usagef("tasks takes no arguments, got %q", rest)
		}
	case "get", "scan":
		var err error
		if q, err = parseQuery(cmd, rest, stderr); err != nil {
			return err
		}
	default:
		return usagef("unknown command %q: tasks, get or scan", cmd)
	}

	dir, err := state.Open(*stateDir, *app)
	if err != nil {
		return err
	}
	defer dir.Close()
	if q == nil {
		return listTasks(dir, stdout)
	}
	return q.run(dir, stdout)
}

// query is a get or a scan.
type query struct {
	get           bool
	task, store   string
	key, from, to []byte
	limit         int
	format        state.Format
}

func parseQuery(cmd string, args []string, stderr io.Writer) (*query, error) {
	fs := flag.NewFlagSet("eddy state "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: eddy state -state-dir DIR -application-id APP %s [flags]\n\nFlags:\n", cmd)
		fs.PrintDefaults()
	}
	serdes := strings.Join(state.SerdeNames, ", ")
	task := fs.String("task", "", "the `task` id (0_1), or global for the global stores (required)")
	storeName := fs.String("store", "", "the store's `name` (required)")
	keySerde := fs.String("key-serde", "raw", "how keys are typed and shown: "+serdes)
	valueSerde := fs.String("value-serde", "raw", "how values are shown: "+serdes)
	timestamped := fs.Bool("timestamped", false, "values start with a timestamp, as in the DSL's tables and aggregations (windowed too): show it")
	var key, from, to *string
	var limit *int
	if cmd == "get" {
		key = fs.String("key", "", "the `key`, typed as -key-serde reads it (required)")
	} else {
		from = fs.String("from", "", "the first `key`, included (default: the first)")
		to = fs.String("to", "", "the last `key`, included (default: the last)")
		limit = fs.Int("limit", 0, "at most `n` entries (0: all)")
	}
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case fs.NArg() > 0:
		return nil, usagef("unexpected arguments %q", fs.Args())
	case *task == "":
		return nil, usagef("-task is required")
	case *storeName == "":
		return nil, usagef("-store is required")
	case cmd == "get" && !set["key"]:
		return nil, usagef("-key is required")
	case limit != nil && *limit < 0:
		return nil, usagef("-limit %d is negative", *limit)
	}
	q := &query{get: cmd == "get", task: *task, store: *storeName, format: state.Format{Timestamped: *timestamped}}
	var err error
	if q.format.Key, err = state.SerdeNamed(*keySerde); err != nil {
		return nil, usagef("-key-serde: %v", err)
	}
	if q.format.Value, err = state.SerdeNamed(*valueSerde); err != nil {
		return nil, usagef("-value-serde: %v", err)
	}
	encode := func(name string, text *string) ([]byte, error) {
		if !set[name] {
			return nil, nil
		}
		b, err := q.format.Key.Encode(*text)
		if err != nil {
			return nil, usagef("-%s: %v", name, err)
		}
		if b == nil {
			b = []byte{}
		}
		return b, nil
	}
	if q.get {
		q.key, err = encode("key", key)
	} else {
		q.limit = *limit
		if q.from, err = encode("from", from); err == nil {
			q.to, err = encode("to", to)
		}
	}
	return q, err
}

func (q *query) run(dir *state.Dir, stdout io.Writer) error {
	db, err := dir.OpenTask(q.task)
	if err != nil {
		return err
	}
	defer db.Close()
	s, err := db.Store(q.store)
	if err != nil {
		return err
	}
	var entries []state.Entry
	if q.get {
		entries, err = s.Get(q.key)
	} else {
		entries, err = s.Scan(q.from, q.to, q.limit)
	}
	if err != nil {
		return err
	}
	if q.get && len(entries) == 0 {
		return fmt.Errorf("store %q of task %s has no key %s", q.store, q.task, q.format.Key.Show(q.key))
	}
	for _, e := range entries {
		fmt.Fprintln(stdout, q.format.Show(s.Kind(), e))
	}
	return nil
}

func listTasks(dir *state.Dir, stdout io.Writer) error {
	tasks, err := dir.Tasks()
	if err != nil {
		return err
	}
	if len(tasks) == 0 {
		fmt.Fprintln(stdout, "no task has local state")
	}
	for _, task := range tasks {
		db, err := dir.OpenTask(task)
		if err != nil {
			return err
		}
		stores, err := db.Stores()
		db.Close()
		if err != nil {
			return fmt.Errorf("task %s: %w", task, err)
		}
		fmt.Fprintf(stdout, "task %s\n", task)
		for _, s := range stores {
			offset := "none"
			if s.Offset >= 0 {
				offset = fmt.Sprint(s.Offset)
			}
			fmt.Fprintf(stdout, "  store %s kind=%s entries=%d changelog_offset=%s\n", s.Name, s.Kind, s.Entries, offset)
		}
	}
	return nil
}
