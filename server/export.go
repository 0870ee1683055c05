package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"vigil/server/api"
	"vigil/server/store"
	"vigil/wire"
)

// exportPage is how many rows Export reads from the store at a time.
const exportPage = 1000

// Export formats.
const (
	FormatJSONL = "jsonl" // one api.Result per line
	FormatCSV   = "csv"   // api.CSVHeader, then one row per result
)

// Export writes every result of the hunt to w as "jsonl" or "csv", reading
// the store page by page so that memory stays bounded.
func (v *Service) Export(ctx context.Context, by api.Operator, id, format string, w io.Writer) error {
	if err := require(by, store.RoleViewer); err != nil {
		return err
	}
	if format != FormatJSONL && format != FormatCSV {
		return api.Errorf(http.StatusBadRequest, "format %q: want jsonl or csv", format)
	}
	if _, err := v.getHunt(ctx, id); err != nil {
		return err
	}
	hosts, err := v.hostnames(ctx)
	if err != nil {
		return err
	}
	var cw *csv.Writer
	var enc *json.Encoder
	if format == FormatCSV {
		cw = csv.NewWriter(w)
		if err := cw.Write(api.CSVHeader); err != nil {
			return err
		}
	} else {
		enc = json.NewEncoder(w)
		enc.SetEscapeHTML(false)
	}
	f := store.ResultFilter{Limit: exportPage}
	for {
		rows, next, err := v.s.store.Results(ctx, id, f)
		if err != nil {
			return err
		}
		for _, r := range rows {
			res := apiResult(r, hosts)
			if cw != nil {
				err = cw.Write(csvRow(res))
			} else {
				err = enc.Encode(res)
			}
			if err != nil {
				return err
			}
		}
		if cw != nil {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
		}
		if len(rows) < f.Limit {
			return nil
		}
		f.After = next
	}
}

// csvRow is one result as a CSV row in api.CSVHeader's order.
func csvRow(r api.Result) []string {
	return []string{
		r.HuntID,
		r.AgentID,
		r.Hostname,
		r.Path,
		strconv.FormatInt(r.Size, 10),
		r.SHA256,
		r.MD5,
		r.Rule,
		r.Namespace,
		strings.Join(r.Tags, " "),
		csvStrings(r.Strings),
		r.Received.UTC().Format(time.RFC3339Nano),
	}
}

// csvStrings formats string hits as "$id@off1;off2 (count)" joined by
// spaces ("$" is added when the ID lacks it).
func csvStrings(hits []wire.StringHit) string {
	var b strings.Builder
	for i, h := range hits {
		if i > 0 {
			b.WriteByte(' ')
		}
		if !strings.HasPrefix(h.ID, "$") {
			b.WriteByte('$')
		}
		b.WriteString(h.ID)
		b.WriteByte('@')
		for j, off := range h.Offsets {
			if j > 0 {
				b.WriteByte(';')
			}
			b.WriteString(strconv.FormatInt(off, 10))
		}
		fmt.Fprintf(&b, " (%d)", h.Count)
	}
	return b.String()
}
