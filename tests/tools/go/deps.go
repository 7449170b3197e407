// Package clients pins the Go Kafka client (franz-go) that the tests use.
// Programs elsewhere under tests/ are built with this module's go.mod, e.g.
//   cd tests/tools/go && go build -o OUT ../../golden/go/main.go
package clients

import (
	_ "github.com/twmb/franz-go/pkg/kadm"
	_ "github.com/twmb/franz-go/pkg/kgo"
)
