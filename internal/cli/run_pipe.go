package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"crew/runner"
)

// pipeFlags holds crew run's --pipe family as given (-N, -L and --header,
// which --pipe reads too, are the input flags').
type pipeFlags struct {
	pipe, spread, pipePart bool
	block, recEnd          string
}

// pipeOptions are those flags parsed; pipe is nil without --pipe,
// --pipepart or a flag implying them.
type pipeOptions struct {
	pipe *runner.Pipe
}

const pipeHelp = `
--pipe cuts standard input into blocks of about --block bytes (default 1M)
that never split a record (a line, or --recend/--recstart), and gives each
block to one job on its standard input:
  cat big.log | crew run --pipe --block 10M grep ERROR
  crew run --pipepart -a big.log --block 10M wc -l   # a file: read in parallel
  crew run --pipe -N 1000 --header 1 ./load.sh < data.csv  # 1000 rows + header
--cat/--fifo put the block in a file/named pipe named {} instead;
--round-robin starts only -j jobs and deals them the blocks in turn.`

// define binds the --pipe family.
func (fl *pipeFlags) define(f *pflag.FlagSet, o *pipeOptions) {
	p := &runner.Pipe{}
	o.pipe = p // kept only if parse finds --pipe on
	f.BoolVar(&fl.pipe, "pipe", false, "cut standard input into blocks, one per job, fed to the job's standard input")
	f.BoolVar(&fl.spread, "spreadstdin", false, "the same as --pipe")
	f.BoolVar(&fl.pipePart, "pipepart", false, "like --pipe, but the blocks are read in parallel straight from the file given with -a (a seekable file); also --pipe-part")
	f.StringVar(&fl.block, "block", "", "block size: a number with K, M, G (x1024) or k, m, g (x1000); default 1M (with --pipepart a negative -N: N blocks per job slot); also --block-size")
	f.StringVar(&fl.recEnd, "recend", "", `a record ends with this string (default "\n"; "" with --recstart alone); blocks end only between records`)
	f.StringVar(&p.RecStart, "recstart", "", "a record starts with this string; blocks end only before it")
	f.BoolVar(&p.Regexp, "regexp", false, "--recstart and --recend are regular expressions")
	f.BoolVar(&p.RemoveRecSep, "rrs", false, "remove the record separators from each block: --recend followed by --recstart, the block's first --recstart and its last --recend; also --remove-rec-sep")
	f.BoolVar(&p.RoundRobin, "round-robin", false, "start only -j jobs and deal the blocks to them in turn (implies --pipe); also --round")
	f.BoolVar(&p.Cat, "cat", false, "write each block to a temporary file named {} instead of the job's standard input (implies --pipe)")
	f.BoolVar(&p.Fifo, "fifo", false, "write each block into a named pipe named {} instead of the job's standard input (implies --pipe)")
}

// parse checks the --pipe family; it runs after the input flags'.
func (fl *pipeFlags) parse(f *pflag.FlagSet, o *runOptions) error {
	p := o.pipe.pipe
	on := fl.pipe || fl.spread || fl.pipePart || p.RoundRobin || p.Cat || p.Fifo
	if !on {
		o.pipe.pipe = nil
		for _, name := range []string{"block", "recend", "recstart", "regexp", "rrs"} {
			if f.Changed(name) {
				return fmt.Errorf("--%s needs --pipe or --pipepart", name)
			}
		}
		return nil
	}
	if f.Changed("recend") {
		p.RecEnd = &fl.recEnd
	}
	if f.Changed("block") {
		n, err := runner.ParseBlockSize(fl.block)
		if err != nil {
			return plain("--block", err)
		}
		if n < 0 && !fl.pipePart {
			return fmt.Errorf("--block %s: must be positive (a negative size, blocks per job slot, needs --pipepart)", fl.block)
		}
		p.BlockSize = n
	}
	if o.maxArgs < 0 && o.maxArgs != -1 || o.maxLines < -1 {
		return errors.New("-N and -L must not be negative")
	}
	var files []string
	for _, in := range o.inputs {
		if !in.isFile {
			return errors.New("--pipe takes its data from standard input (or --pipepart -a FILE), not from ::: arguments")
		}
		files = append(files, in.file)
	}
	switch {
	case fl.pipePart && len(files) != 1:
		return errors.New("--pipepart needs exactly one file, given with -a FILE (or :::: FILE)")
	case fl.pipePart:
		p.Part = files[0]
		o.inputs = nil
	case len(files) > 1:
		return errors.New("--pipe reads one input: standard input, or one file given with -a")
	}
	return nil
}

// open gives the run its data: standard input, or the one -a file.
func (o *pipeOptions) open(inputs []runInput, stdin io.Reader) (func(), error) {
	o.pipe.Input = stdin
	if len(inputs) == 1 && inputs[0].file != "-" {
		f, err := os.Open(inputs[0].file)
		if err != nil {
			return nil, fmt.Errorf("input file: %w", err)
		}
		o.pipe.Input = f
		return func() { f.Close() }, nil
	}
	return func() {}, nil
}

// apply sets the run's Pipe.
func (o *pipeOptions) apply(c *runner.Config) { c.Pipe = o.pipe }
