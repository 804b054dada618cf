package replay

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Throughput of a replay on loopback, with 8 concurrent clients per
// processor, for the smallest and the largest document of election 80 as
// recorded:
//
//	go test ./replay -run '^$' -bench Serve -cpu 2
func BenchmarkServeVersion(b *testing.B) {
	benchmarkServe(b, func(*Server) string { return "election/80/Version.json" })
}

func BenchmarkServeElectiondata(b *testing.B) {
	benchmarkServe(b, func(s *Server) string {
		st := s.Status()
		return "election/80/" + st.Elections[len(st.Elections)-1].Version.String() +
			"/Electiondata.json"
	})
}

func benchmarkServe(b *testing.B, path func(*Server) string) {
	s, _, _ := newTestServer(b, Options{Paused: true})
	s.Seek(night0.Add(time.Hour))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: s}
	go srv.Serve(ln)
	defer srv.Close()

	url := "http://" + ln.Addr().String() + "/" + path(s)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	size := 0
	if resp, err := client.Get(url); err == nil {
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		size = int(n)
	}
	if size == 0 {
		b.Fatalf("GET %s: nothing served", url)
	}

	b.SetBytes(int64(size))
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("GET %s: %s", url, resp.Status)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
