package serde_test

import (
	"fmt"
	"log"
	"strconv"

	"github.com/eddy-streams/eddy/serde"
)

// A serde of JSON for a struct: the topic is passed along for serdes that need it.
func ExampleJSON() {
	type order struct {
		Customer string `json:"customer"`
		Amount   int64  `json:"amount"`
	}
	orders := serde.JSON[order]()
	b, err := orders.Serialize("orders", order{Customer: "ann", Amount: 30})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	o, err := orders.Deserialize("orders", b)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", o)
	// Output:
	// {"customer":"ann","amount":30}
	// {Customer:ann Amount:30}
}

// Func makes a serde of two functions: here integers as decimal text.
func ExampleFunc() {
	decimal := serde.Func(
		func(_ string, v int) ([]byte, error) { return strconv.AppendInt(nil, int64(v), 10), nil },
		func(_ string, b []byte) (int, error) { return strconv.Atoi(string(b)) },
	)
	b, _ := decimal.Serialize("numbers", 42)
	n, err := decimal.Deserialize("numbers", []byte("17"))
	fmt.Println(string(b), n, err)
	_, err = decimal.Deserialize("numbers", []byte("x"))
	fmt.Println(err)
	// Output:
	// 42 17 <nil>
	// strconv.Atoi: parsing "x": invalid syntax
}
