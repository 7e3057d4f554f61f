package emulator_test

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/icholy/digest"

	"switchboard/simulate/emulator"
)

// Start an emulated door station, write a setting through its API as
// `switchboard apply` does, and look at what it holds. To try apply on a
// site without hardware, start one per Akuvox device (in a test or a small
// program of your own), list them in a devices file ("gate http://127.0.0.1:PORT")
// and run:
//
//	SWITCHBOARD_DEVICE_PASSWORD=secret switchboard apply -devices devices.txt DIR
func ExampleStart() {
	d, err := emulator.Start(emulator.WithCredentials("admin", "secret"))
	if err != nil {
		panic(err)
	}
	defer d.Close()

	c := &http.Client{Transport: &digest.Transport{Username: "admin", Password: "secret"}}
	body := `{"target":"config","action":"set","data":{"Config.Account1.GENERAL.UserName":"device.gate"}}`
	res, err := c.Post(d.URL()+"/api/config/set", "application/json", strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	fmt.Println(res.Status, d.Keys()["Config.Account1.GENERAL.UserName"])

	// Make it misbehave: now it acknowledges writes and keeps nothing.
	d.SetMode(emulator.DropWrites)
	fmt.Println(d.Mode())
	// Output:
	// 200 OK device.gate
	// drop-writes
}
