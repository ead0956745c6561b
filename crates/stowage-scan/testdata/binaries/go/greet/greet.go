// Package greet is a local module, replaced by a directory.
package greet

// Hello says hello.
func Hello() string { return "hello" }
