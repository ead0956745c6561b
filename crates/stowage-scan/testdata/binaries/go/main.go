// A tiny program for Stowage's scanner tests: one local module, one real
// module (golang.org/x/net v0.7.0, vendored from Debian's source package).
package main

import (
	"fmt"
	"os"
	"strings"

	"example.com/greet"
	"golang.org/x/net/html"
)

func main() {
	doc, err := html.Parse(strings.NewReader("<p>" + greet.Hello() + "</p>"))
	if err != nil {
		os.Exit(1)
	}
	fmt.Println(doc.FirstChild.Data)
}
