# A house with one of each device that shows people's names: an Akuvox
# gate and monitor, a Yealink and a Grandstream desk phone. names_test.go
# renames Mary and checks where the new name goes.

site "names" {
  name     = "Names House"
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "names.example.net"

  installer {
    company = "Dublin Door Systems"
    email   = "support@dds.example"
  }
}

residence "home" {
  label = "1"
}

user "mary" {
  first_name = "Mary"
  last_name  = "Byrne"
  email      = "mary@example.com"
  mobile     = "+353871234567"
  residence  = residence.home
  role       = "owner"
  extension  = 101
  app        = true
  directory  = true
}

user "john" {
  first_name = "John"
  last_name  = "Byrne"
  email      = "john@example.com"
  mobile     = "+353871234568"
  residence  = residence.home
  extension  = 102
  app        = true
  directory  = true
}

device "gate" {
  model    = "akuvox-r20k"
  mac      = "0C:11:05:00:00:01"
  location = "Front gate"
  button "1" { calls = residence.home }
  relay "door" { dtmf = "#" }
}

device "monitor" {
  model     = "akuvox-c315"
  mac       = "0C:11:05:00:00:02"
  location  = "Hall"
  residence = residence.home
}

device "desk-mary" {
  model    = "yealink-t54w"
  mac      = "80:5E:C0:00:00:03"
  location = "Study"
  user     = user.mary
}

device "desk-john" {
  model = "grandstream-grp2614"
  mac   = "C0:74:AD:00:00:04"
  user  = user.john
  label = "John (kitchen)"
}
