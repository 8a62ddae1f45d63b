// Command duckdbjoin answers issue 11's engine question by measurement: the
// offline benchmark's point-in-time join run in-process by DuckDB through
// github.com/duckdb/duckdb-go/v2 (cgo), to set beside our Go as-of join
// (feature-server get-historical-features) on the same files.
//
//	duckdbjoin -sql bench/offline/asof.sql -data DIR -entities E.parquet -output OUT.parquet
//
// It runs bench/offline/asof.sql, the same query the Python limit probe
// runs, and prints the query's time on stderr. This is a module of its own
// so that the server's module never takes the cgo dependency.
package main

import (
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

func main() {
	sqlPath := flag.String("sql", "bench/offline/asof.sql", "the query, with {entities}, {view_a}, {view_b} and {output} to fill")
	data := flag.String("data", "", "directory holding view_a.parquet and view_b.parquet")
	entities := flag.String("entities", "", "entity frame (parquet)")
	output := flag.String("output", "", "training set to write (parquet)")
	flag.Parse()
	if *data == "" || *entities == "" || *output == "" {
		log.Fatal("duckdbjoin: -data, -entities and -output are required")
	}
	text, err := os.ReadFile(*sqlPath)
	if err != nil {
		log.Fatalf("duckdbjoin: -sql: %v", err)
	}
	quote := func(s string) string { return strings.ReplaceAll(s, "'", "''") }
	query := strings.NewReplacer(
		"{entities}", quote(*entities),
		"{view_a}", quote(filepath.Join(*data, "view_a.parquet")),
		"{view_b}", quote(filepath.Join(*data, "view_b.parquet")),
		"{output}", quote(*output),
	).Replace(string(text))
	db, err := sql.Open("duckdb", "")
	if err != nil {
		log.Fatalf("duckdbjoin: open: %v", err)
	}
	defer db.Close()
	start := time.Now()
	if _, err := db.Exec(query); err != nil {
		log.Fatalf("duckdbjoin: query: %v", err)
	}
	var version string
	if err := db.QueryRow("SELECT version()").Scan(&version); err != nil {
		version = "?"
	}
	fmt.Fprintf(os.Stderr, "duckdbjoin: duckdb %s (duckdb-go), query %.2fs\n", version, time.Since(start).Seconds())
}
