# The interop site: one gate, three flats and a carrier, small enough to
# read at a glance. Every test in this package runs against it.
#
#   flat 1A  rung at once: app.alice, app.bob, device.monitor-1a
#   flat 2B  rung in turn (20s each of 40s), then hang up: app.carol, app.dan
#   flat 3C  rung for 20s, then hang up: app.erin, who also has a DDI
#   8101     alice's conference room, no PIN
#
# The carrier is recognised by its source address, 127.0.0.2: every other
# peer of the tests speaks from 127.0.0.1, so it must authenticate.

variable "trunk_user" {
  type      = string
  default   = "interop"
  sensitive = true
}

variable "trunk_password" {
  type      = string
  default   = "not-a-real-password"
  sensitive = true
}

site "interop" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "interop.example"
  installer {
    company = "Doors Ltd"
    email   = "installer@doors.example"
  }
}

trunk "carrier" {
  host     = "127.0.0.2"
  username = var.trunk_user
  password = var.trunk_password
  numbers  = ["+35315550100", "+35315550103"]
}

residence "flat-1a" {
  label        = "1A"
  ring_timeout = "30s"
}

residence "flat-2b" {
  label        = "2B"
  ring         = "sequential"
  ring_timeout = "40s"
  no_answer    = "hangup"
}

residence "flat-3c" {
  label        = "3C"
  ring_timeout = "20s"
  no_answer    = "hangup"
}

user "alice" {
  email      = "alice@interop.example"
  residence  = residence.flat-1a
  role       = "owner"
  extension  = 101
  app        = true
  conference = 8101
}

user "bob" {
  email     = "bob@interop.example"
  residence = residence.flat-1a
  extension = 102
  app       = true
}

user "carol" {
  email     = "carol@interop.example"
  residence = residence.flat-2b
  extension = 201
  app       = true
}

user "dan" {
  email     = "dan@interop.example"
  residence = residence.flat-2b
  extension = 202
  app       = true
}

user "erin" {
  email     = "erin@interop.example"
  residence = residence.flat-3c
  extension = 301
  app       = true
  numbers   = ["+35315550103"]
}

device "gate" {
  model  = "akuvox-r29c"
  mac    = "0C:11:05:00:00:01"
  keypad = true
  button "1" { calls = residence.flat-1a }
  relay "door" {
    dtmf = "#"
    hold = "3s"
  }
}

device "monitor-1a" {
  model     = "akuvox-c315"
  mac       = "0C:11:05:00:00:02"
  residence = residence.flat-1a
}
