package report_test

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"image"
	"image/color"
	_ "image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crew/internal/report"
)

// sampleRun is a run of 9 jobs on 3 slots, two of them failed, plus one
// job in a slot of its own.
func sampleRun() *report.Run {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := &report.Run{Command: "./test.sh {}", Start: t0, End: t0.Add(4 * time.Second), LaneName: "job slot", Slots: 4, Skipped: 2}
	for i := range 9 {
		r.Jobs = append(r.Jobs, report.RunJob{
			Seq: int64(i + 1), Lane: []string{"1", "2", "3"}[i%3],
			Start: t0.Add(time.Duration(i/3) * time.Second), Runtime: time.Duration(500+100*i) * time.Millisecond,
			Failed: i == 4 || i == 7, Exit: map[bool]int{true: 3}[i == 4], Signal: map[bool]int{true: 15}[i == 7],
			Command: "./test.sh " + string(rune('a'+i)),
		})
	}
	r.Jobs = append(r.Jobs, report.RunJob{Seq: 10, Lane: "10", Start: t0, Runtime: 3 * time.Second, Command: "./test.sh j"})
	return r
}

// runPage checks the page is well-formed, self-contained HTML and returns
// its text and the SVG of each image, decoded.
func runPage(t *testing.T, page []byte) (string, [][]byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(page))
	dec.Strict, dec.AutoClose, dec.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	var svgs [][]byte
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page does not parse: %v", err)
		}
		n, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if n.Name.Local == "script" || n.Name.Local == "link" {
			t.Errorf("page has a <%s> element", n.Name.Local)
		}
		for _, a := range n.Attr {
			if a.Name.Local != "src" && a.Name.Local != "href" {
				continue
			}
			data, ok := strings.CutPrefix(a.Value, "data:image/svg+xml;base64,")
			if !ok {
				t.Errorf("page refers to %.40q: it must be one file", a.Value)
				continue
			}
			svg, err := base64.StdEncoding.DecodeString(data)
			if err != nil || !bytes.HasPrefix(bytes.TrimSpace(svg), []byte("<?xml")) && !bytes.Contains(svg[:min(200, len(svg))], []byte("<svg")) {
				t.Errorf("image is not an SVG: %v", err)
			}
			svgs = append(svgs, svg)
		}
	}
	return string(page), svgs
}

func TestRunHTML(t *testing.T) {
	cases := []struct {
		name   string
		run    *report.Run
		images int
		want   []string // in the page
		lanes  []string // lane labels in the timeline
		not    []string
	}{
		{"sample", sampleRun(), 2,
			[]string{"./test.sh {}", "<th>jobs run</th><td class=\"num\">10</td>", "<th>failed</th><td class=\"num bad\">2</td>",
				"skipped (already in the joblog)", "slots busy (of 4)", "Failed jobs", "exit 3", "signal 15", "./test.sh e"},
			[]string{">1<", ">2<", ">3<", ">10<"}, []string{"./test.sh a</td>"}},
		{"no jobs", &report.Run{Command: "true"}, 0, []string{"No jobs ran.", "<th>jobs run</th><td class=\"num\">0</td>"}, nil, []string{"Failed jobs"}},
		{"one job", &report.Run{Jobs: []report.RunJob{{Seq: 1, Lane: "1", Start: time.Unix(100, 0), Runtime: time.Second}}}, 2,
			[]string{"Started 1970-01-01 00:01:40 UTC", "<th>wall time (s)</th><td class=\"num\">1.000</td>"}, []string{">1<"}, nil},
		// Jobs overlapping on one worker get lanes of their own under its name.
		{"workers", &report.Run{LaneName: "worker", Jobs: []report.RunJob{
			{Seq: 1, Lane: "hostb", Start: time.Unix(0, 0), Runtime: 2 * time.Second},
			{Seq: 2, Lane: "hostb", Start: time.Unix(1, 0), Runtime: 2 * time.Second},
			{Seq: 3, Lane: "hostb", Start: time.Unix(2, 0), Runtime: time.Second},
			{Seq: 4, Lane: "hosta", Start: time.Unix(0, 0), Runtime: time.Second, Failed: true, Exit: 1},
		}}, 2, []string{"one lane per worker", "<th>worker</th>"}, []string{">hosta<", ">hostb<", ">hostb ·2<"}, []string{"hostb ·3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := report.RunHTML(&b, c.run); err != nil {
				t.Fatal(err)
			}
			page, svgs := runPage(t, b.Bytes())
			if len(svgs) != c.images {
				t.Errorf("%d images, want %d", len(svgs), c.images)
			}
			for _, w := range c.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range c.not {
				if strings.Contains(page, w) {
					t.Errorf("page has %q", w)
				}
			}
			if len(svgs) > 0 {
				for _, l := range c.lanes {
					if !bytes.Contains(svgs[0], []byte(l)) {
						t.Errorf("timeline lacks lane %q", l)
					}
				}
			}
		})
	}
	if err := report.RunHTML(io.Discard, nil); err != report.ErrNilRun {
		t.Errorf("nil run: %v, want ErrNilRun", err)
	}
}

// TestRunHTMLInChromium opens the page in headless Chromium, offline, and
// checks the screenshot shows the charts: the blue of the jobs and the
// red of the failed ones, which only the embedded SVG images draw.
func TestRunHTMLInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	dir := t.TempDir()
	var b bytes.Buffer
	if err := report.RunHTML(&b, sampleRun()); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "run.html")
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "run.png")
	cmd := exec.Command(browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot, "--window-size=1200,1600", "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	near := func(c color.Color, r, g, b uint8) bool {
		cr, cg, cb, _ := c.RGBA()
		d := func(x uint32, y uint8) bool { return int(x>>8)-int(y) < 12 && int(y)-int(x>>8) < 12 }
		return d(cr, r) && d(cg, g) && d(cb, b)
	}
	blue, red := 0, 0
	bounds := img.Bounds()
	// Below the totals and the colour key, where only the charts are.
	for y := bounds.Min.Y + 750; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			switch c := img.At(x, y); {
			case near(c, 0x4e, 0x79, 0xa7):
				blue++
			case near(c, 0xd6, 0x27, 0x28):
				red++
			}
		}
	}
	if blue < 5000 || red < 500 {
		t.Errorf("the charts do not show: %d blue and %d red pixels below the totals", blue, red)
	}
}
