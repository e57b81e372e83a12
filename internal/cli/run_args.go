package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"crew/runner"
)

// runInput is one input source named on the command line.
type runInput struct {
	values []string
	file   string
	isFile bool
	linked bool
}

// splitRunArgs separates the command from the input sources: ":::" starts
// a group of values, "::::" a group of files (each file one input), and a
// trailing "+" links the group to the previous one.
//
// Empty groups follow GNU parallel: ":::" with no values is an input with
// no values (the runner makes it one empty value when another input has
// some), "::::" with no files adds no input, and a lone separator at the
// very end of the command ("crew run echo :::") is ignored, so standard
// input is read.
func splitRunArgs(args []string) (command []string, inputs []runInput) {
	i := 0
	for i < len(args) && !isSep(args[i]) {
		i++
	}
	command = args[:i]
	if i == len(args)-1 {
		return command, nil
	}
	for i < len(args) {
		sep := args[i]
		i++
		j := i
		for j < len(args) && !isSep(args[j]) {
			j++
		}
		vals := args[i:j]
		linked := strings.HasSuffix(sep, "+")
		if strings.HasPrefix(sep, "::::") {
			for k, f := range vals {
				inputs = append(inputs, runInput{file: f, isFile: true, linked: linked && k == 0})
			}
		} else {
			inputs = append(inputs, runInput{values: vals, linked: linked})
		}
		i = j
	}
	return command, inputs
}

func isSep(a string) bool {
	return a == ":::" || a == ":::+" || a == "::::" || a == "::::+"
}

// openInputs turns the input sources into the runner's, opening the files
// ("-" is stdin); with no source at all, stdin is the input. The returned
// function closes the files.
func openInputs(inputs []runInput, stdin io.Reader) ([]runner.Input, func(), error) {
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	if len(inputs) == 0 {
		return []runner.Input{{Reader: stdin, Name: "stdin"}}, closeAll, nil
	}
	var out []runner.Input
	usedStdin := false
	for _, in := range inputs {
		switch {
		case !in.isFile:
			out = append(out, runner.Input{Values: in.values, Linked: in.linked})
		case in.file == "-":
			if usedStdin {
				closeAll()
				return nil, nil, errors.New("standard input (-) given twice")
			}
			usedStdin = true
			out = append(out, runner.Input{Reader: stdin, Name: "stdin", Linked: in.linked})
		default:
			f, err := os.Open(in.file)
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("input file: %w", err)
			}
			files = append(files, f)
			out = append(out, runner.Input{Reader: f, Name: in.file, Linked: in.linked})
		}
	}
	return out, closeAll, nil
}
