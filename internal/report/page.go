package report

import (
	"html/template"
	"strings"

	"crew/internal/lab"
)

type pageData struct {
	Machine     lab.Machine
	MachineLine string
	Experiments []sectionData
}

type sectionData struct {
	ID, Name, Claim, Verdict, Params, Elapsed string
	Word                                      string // verdictWord
	Columns                                   []column
	Rows                                      [][]cell
	Notes                                     []string
	Charts                                    []figure
}

type column struct {
	Name    string
	Numeric bool
}

type figure struct {
	Title, File, Problem, Skipped string
}

func section(res *lab.Result, id string) sectionData {
	cols, cells, numeric := table(res)
	s := sectionData{
		ID:      id,
		Name:    res.Name,
		Claim:   res.Claim,
		Verdict: res.Verdict,
		Word:    verdictWord(res),
		Params:  paramsLine(res.Params),
		Elapsed: formatFloat(res.Elapsed.Seconds()),
		Rows:    cells,
		Notes:   res.Notes,
	}
	for i, c := range cols {
		s.Columns = append(s.Columns, column{Name: c, Numeric: numeric[i]})
	}
	return s
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"class": func(word string) string { return strings.ReplaceAll(word, " ", "-") },
}).Parse(pageHTML))

// The page is plain HTML with inline CSS so it opens from disk, offline,
// in any browser, and prints cleanly.
// docHead and baseCSS begin both of the package's pages, the lab's and
// crew run's: the same type, tables and figures.
const docHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
`

const baseCSS = `body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .92rem; }
th { background: #f4f4f4; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.2rem 0; }
figcaption { color: #555; font-size: .88rem; }
.problem { color: #a00; }
`

const pageHTML = docHead + `<title>crew lab report</title>
<style>
` + baseCSS + `h2 { font-size: 1.25rem; margin-top: 2.5rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.machine { color: #555; }
.claim { font-style: italic; margin: .5rem 0; }
.verdict { padding: .4rem .7rem; border-radius: 4px; }
.verdict.holds { background: #e3f4e1; border-left: 4px solid #2e7d32; }
.verdict.differs { background: #fff1dc; border-left: 4px solid #d57800; }
.badge { font-weight: bold; text-transform: uppercase; font-size: .8rem; }
.holds .badge { color: #2e7d32; }
.differs .badge { color: #b36200; }
.verdict.not-shown { background: #eceff1; border-left: 4px solid #607d8b; }
.not-shown .badge { color: #455a64; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #e4e4e4; text-align: left; }
.params, .elapsed, .note { color: #555; font-size: .92rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
ul.summary { padding-left: 1.2rem; }
</style>
</head>
<body>
<h1>crew lab report</h1>
<p class="machine">Machine: {{.MachineLine}}</p>
{{if .Experiments}}<ul class="summary">
{{range .Experiments}}<li class="{{class .Word}}"><a href="#{{.ID}}">{{.Name}}</a> — <span class="badge">{{.Word}}</span></li>
{{end}}</ul>
{{else}}<p>No experiments.</p>
{{end}}
{{range .Experiments}}<section id="{{.ID}}">
<h2>{{.Name}}</h2>
{{if .Claim}}<p class="claim">Claim: {{.Claim}}</p>{{end}}
<p class="verdict {{class .Word}}"><span class="badge">{{.Word}}</span> {{.Verdict}}</p>
{{if .Params}}<p class="params">Parameters: {{.Params}}</p>{{end}}
{{if .Rows}}<table>
<thead><tr>{{range .Columns}}<th{{if .Numeric}} class="num"{{end}}>{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{$cols := .Columns}}{{range .Rows}}<tr>{{range $i, $c := .}}<td{{if (index $cols $i).Numeric}} class="num"{{end}}>{{$c.Text}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{else}}<p>No rows.</p>
{{end}}
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}
{{range .Charts}}<figure>
{{if .File}}<img src="{{.File}}" alt="{{.Title}}">{{end}}
<figcaption>{{.Title}}{{if .Problem}} <span class="problem">— {{.Problem}}</span>{{end}}{{if .Skipped}} <span class="problem">— {{.Skipped}}</span>{{end}}</figcaption>
</figure>
{{end}}
<p class="elapsed">Ran in {{.Elapsed}} s.</p>
</section>
{{end}}
</body>
</html>
`
