module cio/bench/peers/go

go 1.19
