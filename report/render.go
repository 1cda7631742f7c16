package report

import (
	"bufio"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io"
)

//go:embed assets/report.html assets/report.css assets/report.js assets/index.html assets/index.js
var assets embed.FS

func mustRead(name string) string {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	return string(b)
}

var (
	css        = mustRead("assets/report.css")
	reportJS   = mustRead("assets/report.js")
	indexJS    = mustRead("assets/index.js")
	reportTmpl = template.Must(template.New("report").Parse(mustRead("assets/report.html")))
	indexTmpl  = template.Must(template.New("index").Parse(mustRead("assets/index.html")))
	reportCSP  = csp(reportJS)
	indexCSP   = csp(indexJS)
)

// csp forbids every fetch and lets only the page's own script run, by its
// hash: even if a value slipped through escaping as a <script>, the browser
// would not run it.
func csp(script string) string {
	sum := sha256.Sum256([]byte(script))
	return "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
}

func render(w io.Writer, p *page) error {
	data, err := dataJSON(p.Data)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	err = reportTmpl.Execute(bw, map[string]any{
		"P":      p,
		"CSP":    reportCSP,
		"CSS":    template.CSS(css),
		"Script": template.JS(reportJS),
		// Safe as raw script content: see dataJSON.
		"Data": template.JS(data),
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}
