package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"crew/cluster"
)

// runsOptions is what crew runs, crew status, crew cancel and crew
// workers are asked to do: they read (or cancel) runs and workers through
// cluster.Client, the same read API the broker's dashboard uses.
type runsOptions struct {
	streams Streams
	server  string
	json    bool
	run     string
	// now is the clock ages are computed against; tests fix it.
	now func() time.Time
}

func newRunsCmd(s Streams, runF func(context.Context, *runsOptions) error) *cobra.Command {
	opts := &runsOptions{streams: s, now: time.Now}
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List the runs the broker keeps, with their jobs' counts",
		Long: `crew runs lists the runs the broker keeps, newest first: id, command, when
submitted, and how many of its jobs there are in all, queued, running, done
(exit 0) and failed, and its age. A finished run stays until the broker's
retention (crew broker --retention, default 24h) passes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runsRun(cmd, opts, runF, runRuns)
		},
	}
	runsFlags(cmd, opts)
	return cmd
}

func newStatusCmd(s Streams, runF func(context.Context, *runsOptions) error) *cobra.Command {
	opts := &runsOptions{streams: s, now: time.Now}
	cmd := &cobra.Command{
		Use:   "status RUN",
		Short: "List a run's jobs: state, worker, start, run time, exit status",
		Long: `crew status RUN lists the jobs of a run the broker keeps, in order: sequence
number, input, state (queued, running, done, failed, cancelled), the worker
that runs or ran it, when it started, how long it ran and its exit status.`,
		Args: exactRunArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.run = args[0]
			return runsRun(cmd, opts, runF, runStatus)
		},
	}
	runsFlags(cmd, opts)
	return cmd
}

func newCancelCmd(s Streams, runF func(context.Context, *runsOptions) error) *cobra.Command {
	opts := &runsOptions{streams: s, now: time.Now}
	cmd := &cobra.Command{
		Use:   "cancel RUN",
		Short: "Cancel a run: delete its queued jobs, stop its running ones",
		Long: `crew cancel RUN cancels a run the broker keeps, from any machine that reaches
the broker: its queued jobs are deleted, its running ones stopped along the
run's --term-seq, and its submitter and attaches stop waiting. Its results so
far stay (crew status RUN). Cancelling a cancelled or finished run, or an
unknown one, changes nothing and exits 255.`,
		Args: exactRunArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.run = args[0]
			return runsRun(cmd, opts, runF, runCancel)
		},
	}
	runsFlags(cmd, opts)
	return cmd
}

func newWorkersCmd(s Streams, runF func(context.Context, *runsOptions) error) *cobra.Command {
	opts := &runsOptions{streams: s, now: time.Now}
	cmd := &cobra.Command{
		Use:   "workers",
		Short: "List the connected workers: host, slots, busy, tags, version, heartbeat",
		Long: `crew workers lists the workers connected to the broker: host, job slots
(crew worker -j), slots busy, tags, crew version and how long ago the last
heartbeat came (every 5 s; a worker silent for 15 s is not listed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runsRun(cmd, opts, runF, runWorkers)
		},
	}
	runsFlags(cmd, opts)
	return cmd
}

func runsFlags(cmd *cobra.Command, opts *runsOptions) {
	serverFlag(cmd.Flags(), &opts.server)
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON instead of a table")
}

// runsRun checks the options, then hands them to runF, or to run.
func runsRun(cmd *cobra.Command, opts *runsOptions, runF func(context.Context, *runsOptions) error,
	run func(context.Context, *cluster.Client, *runsOptions) error) error {
	if err := needServer(&opts.server); err != nil {
		return err
	}
	if runF != nil {
		return runF(cmd.Context(), opts)
	}
	c, err := dialServer(cmd.Context(), opts.server)
	if err != nil {
		return err
	}
	defer c.Close()
	return run(cmd.Context(), c, opts)
}

func runRuns(ctx context.Context, c *cluster.Client, opts *runsOptions) error {
	runs, err := c.Runs(ctx)
	if err != nil {
		return err
	}
	if opts.json {
		return writeJSON(opts.streams.Out, runs)
	}
	now := opts.now()
	return table(opts.streams.Out, "ID\tCOMMAND\tSUBMITTED\tTOTAL\tQUEUED\tRUNNING\tDONE\tFAILED\tAGE\tSTATE", len(runs), func(i int) string {
		r := runs[i]
		return strings.Join([]string{r.ID, shorten(r.Command, 40), r.Submitted.Local().Format(time.DateTime),
			count(r.Total), count(r.Queued), count(r.Running), count(r.Done), count(r.Failed),
			age(now.Sub(r.Submitted)), string(r.State)}, "\t")
	})
}

func runStatus(ctx context.Context, c *cluster.Client, opts *runsOptions) error {
	jobs, err := c.Jobs(ctx, opts.run)
	if err != nil {
		return runError(opts.run, err)
	}
	if opts.json {
		return writeJSON(opts.streams.Out, jobs)
	}
	return table(opts.streams.Out, "SEQ\tINPUT\tSTATE\tWORKER\tSTART\tRUNTIME\tEXIT", len(jobs), func(i int) string {
		j := jobs[i]
		start, runtime, exit, worker := "-", "-", "-", "-"
		if !j.Start.IsZero() {
			start = j.Start.Local().Format(time.TimeOnly)
			runtime = fmt.Sprintf("%.3fs", j.Runtime.Seconds())
		}
		if j.Worker != "" {
			worker = j.Worker
		}
		if j.State == cluster.JobDone || j.State == cluster.JobFailed {
			exit = strconv.Itoa(j.Exit)
			if j.Signal != 0 {
				exit = "signal " + strconv.Itoa(j.Signal)
			}
		}
		return strings.Join([]string{strconv.FormatInt(j.Seq, 10), shorten(j.Input, 40), string(j.State), worker, start, runtime, exit}, "\t")
	})
}

func runCancel(ctx context.Context, c *cluster.Client, opts *runsOptions) error {
	before, err := c.Cancel(ctx, opts.run)
	if err != nil {
		return runError(opts.run, err)
	}
	if opts.json {
		return writeJSON(opts.streams.Out, struct {
			ID      string `json:"id"`
			Queued  int64  `json:"queued"`
			Running int64  `json:"running"`
		}{before.ID, max(before.Queued, 0), before.Running})
	}
	queued := count(before.Queued)
	_, err = fmt.Fprintf(opts.streams.Out, "cancelled run %s: %s queued jobs deleted, %d running jobs stopped\n", before.ID, queued, before.Running)
	return err
}

func runWorkers(ctx context.Context, c *cluster.Client, opts *runsOptions) error {
	ws, err := c.Workers(ctx)
	if err != nil {
		return err
	}
	if opts.json {
		return writeJSON(opts.streams.Out, ws)
	}
	now := opts.now()
	return table(opts.streams.Out, "HOST\tSLOTS\tBUSY\tTAGS\tVERSION\tLAST HEARTBEAT", len(ws), func(i int) string {
		w := ws[i]
		tags := strings.Join(w.Tags, ",")
		if tags == "" {
			tags = "-"
		}
		version := w.Version
		if version == "" {
			version = "-"
		}
		return strings.Join([]string{w.Host, strconv.Itoa(w.Slots), strconv.Itoa(w.Busy), tags, version,
			age(now.Sub(w.LastSeen)) + " ago"}, "\t")
	})
}

// table writes a header and n rows as aligned columns.
func table(w io.Writer, header string, n int, row func(int) string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for i := range n {
		fmt.Fprintln(tw, row(i))
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// count shows a count, "?" when unknown.
func count(n int64) string {
	if n < 0 {
		return "?"
	}
	return strconv.FormatInt(n, 10)
}

// age shows a duration as people read ages: 42s, 5m, 3h, 2d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(max(d, 0)/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// shorten keeps a table cell to n runes, one line.
func shorten(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
