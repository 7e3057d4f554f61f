# The site the scenario parser tests resolve against: a simultaneous and a
# sequential residence, a keypad door station with two relays, a monitor,
# a desk phone, a user without voicemail, one without an app, a carrier.

site "harbour-view" {
  name     = "Harbour View Apartments"
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "harbour-view.example.net"
  installer {
    company = "Dublin Door Systems"
    email   = "support@dds.example"
  }
}

residence "apt-1a" {
  label        = "1A"
  ring         = "simultaneous"
  ring_timeout = "30s"
}

residence "apt-2b" {
  label        = "2B"
  ring         = "sequential"
  ring_timeout = "40s"
}

user "mary" {
  first_name = "Mary"
  last_name  = "Byrne"
  email      = "mary@example.com"
  residence  = residence.apt-1a
  role       = "owner"
  extension  = 101
  app        = true
  numbers    = ["+35315550101"]
}

user "tom" {
  first_name = "Tom"
  last_name  = "Byrne"
  email      = "tom@example.com"
  residence  = residence.apt-1a
  extension  = 102
  app        = true
  voicemail  = false
}

user "ann" {
  first_name   = "Ann"
  last_name    = "Walsh"
  email        = "ann@example.com"
  residence    = residence.apt-2b
  extension    = 201
  app          = true
  ring_timeout = "15s"
}

user "bob" {
  first_name = "Bob"
  last_name  = "Walsh"
  email      = "bob@example.com"
  residence  = residence.apt-2b
  extension  = 202
  app        = true
}

user "eve" {
  first_name = "Eve"
  last_name  = "Walsh"
  email      = "eve@example.com"
  residence  = residence.apt-2b
  extension  = 203
}

device "front-gate" {
  model    = "akuvox-r29c"
  mac      = "0C:11:05:12:34:56"
  location = "Front gate"
  keypad   = true
  button "1" { calls = residence.apt-1a }
  button "2" { calls = residence.apt-2b }
  relay "door" {
    dtmf = "#"
  }
  relay "garage" {
    dtmf = "*5"
  }
}

device "monitor-1a" {
  model     = "akuvox-c315"
  mac       = "0C:11:05:AB:CD:EF"
  residence = residence.apt-1a
}

device "desk-101" {
  model = "yealink-t54w"
  mac   = "80:5E:C0:11:22:33"
  user  = user.mary
}

variable "trunk_user" {
  default = "hv-100"
}

variable "trunk_password" {
  sensitive = true
  default   = "not-a-secret"
}

trunk "carrier" {
  host     = "sip.carrier.example"
  username = var.trunk_user
  password = var.trunk_password
  numbers  = ["+35315550100", "+35315550101"]
}
