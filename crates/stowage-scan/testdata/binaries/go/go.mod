module example.com/stowage-fixture

go 1.19

require (
	example.com/greet v0.0.0
	golang.org/x/net v0.1.0
)

replace example.com/greet => ./greet

replace golang.org/x/net v0.1.0 => golang.org/x/net v0.7.0
