package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"crew/internal/lab"
	"crew/internal/report"
)

// labOptions is what crew lab is asked to do: its flags and the
// experiments named.
type labOptions struct {
	streams   Streams
	names     []string
	list      bool
	full      bool
	workers   int
	sets      []string
	params    map[string]string // sets, parsed and checked
	json      bool
	reportDir string
	python    bool
	quiet     bool
}

func newLabCmd(s Streams, runF func(context.Context, *labOptions) error) *cobra.Command {
	opts := &labOptions{streams: s}
	cmd := &cobra.Command{
		Use:   "lab [NAME...]",
		Short: "Measure threads, processes, locks and the GIL on this machine",
		Long: `crew lab runs the study notes' experiments on this machine and says, for
each, whether the notes' claim holds, from the figures it measured.

With no NAME it runs every experiment at quick sizes (under 30 s on two
cores); --full uses the notes' own sizes and takes a few minutes. On a
terminal a progress bar shows which experiment runs; otherwise progress
goes to stderr line by line (-q for none). --set key=value (or NAME.key=value)
overrides one experiment parameter; the table header lists them.`,
		Example: `  crew lab --list
  crew lab gil race
  crew lab --python --report out/ 
  crew lab gil --set gil.rounds=5 --workers 4`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.names = args
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runLab(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.list, "list", false, "list the experiments and their claims")
	f.BoolVar(&opts.full, "full", false, "use the notes' sizes instead of quick ones")
	f.IntVar(&opts.workers, "workers", 0, "threads or processes for parallel modes (default: CPUs, at least 2)")
	f.StringArrayVar(&opts.sets, "set", nil, "override a parameter: key=value or NAME.key=value (repeatable)")
	f.BoolVar(&opts.json, "json", false, "print one JSON document instead of text tables")
	f.StringVar(&opts.reportDir, "report", "", "also write an HTML report with charts into `DIR`")
	f.BoolVar(&opts.python, "python", false, "also run the Python twins (needs python3 on PATH)")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "no progress lines on stderr")
	return cmd
}

// validate checks the experiments named and the settings, and parses the
// settings into params; --list takes none of them.
func (o *labOptions) validate() error {
	if o.list {
		return nil
	}
	for _, n := range o.names {
		if _, err := lab.Lookup(n); err != nil {
			return err
		}
	}
	if o.workers < 0 {
		return errors.New("lab: --workers must be positive")
	}
	params, err := lab.ParseParams(o.sets)
	if err != nil {
		return err
	}
	if err := lab.CheckParams(params, o.names...); err != nil {
		return err
	}
	o.params = params
	return nil
}

func runLab(ctx context.Context, opts *labOptions) error {
	s := opts.streams
	if opts.list {
		return listLab(s, opts.json)
	}
	cfg := lab.Config{Full: opts.full, Workers: opts.workers, Params: opts.params}
	if opts.python {
		if cfg.Python = lab.FindPython(); cfg.Python == "" {
			return errors.New("lab: --python: python3 not found on PATH")
		}
	}
	if opts.reportDir != "" {
		// The experiments take seconds to minutes; a directory that cannot
		// be written should fail before they run, not after.
		if err := checkWritableDir(opts.reportDir); err != nil {
			return fmt.Errorf("lab: --report: %w", err)
		}
	}
	var bar *labBar
	switch {
	case opts.quiet:
	case isTerminal(s.Err):
		// A bar rather than a scroll of lines: at --full sizes the
		// experiments take minutes.
		if opts.full {
			fmt.Fprintln(s.Err, fullNote)
		}
		bar = newLabBar(s.Err, 100*time.Millisecond)
		cfg.Progress, cfg.Step = bar, bar.step
	default:
		if opts.full {
			fmt.Fprintln(s.Err, fullNote)
		}
		cfg.Progress = s.Err
	}
	rep, err := lab.Run(ctx, cfg, opts.names...)
	if bar != nil && err != nil {
		fmt.Fprintln(s.Err) // end the bar's line before the error
	}
	if rep != nil && len(rep.Experiments) > 0 || err == nil {
		if perr := printLab(s, opts, rep); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

// listLab prints the experiments, their claims and parameters.
func listLab(s Streams, asJSON bool) error {
	type entry struct {
		Name   string   `json:"name"`
		Claim  string   `json:"claim"`
		Params []string `json:"params"`
	}
	var list []entry
	for _, e := range lab.Experiments() {
		en := entry{Name: e.Name, Claim: e.Claim, Params: []string{}}
		for _, p := range e.Params {
			en.Params = append(en.Params, p.Key)
		}
		list = append(list, en)
	}
	if asJSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	for _, e := range list {
		fmt.Fprintf(tw, "%s\t%s\n", e.Name, e.Claim)
	}
	return tw.Flush()
}

// checkWritableDir creates dir if needed and proves a file can be made in
// it.
func checkWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".crew-lab-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

func printLab(s Streams, opts *labOptions, rep *lab.Report) error {
	if opts.reportDir != "" {
		if err := report.HTML(opts.reportDir, rep); err != nil {
			return err
		}
	}
	if opts.json {
		return report.JSON(s.Out, rep)
	}
	return report.Text(s.Out, rep)
}
