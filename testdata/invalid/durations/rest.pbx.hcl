residence "flat" {
  ring_timeout = "2s" # ERROR: Duration out of range
}

user "resident" {
  first_name   = "Liam"
  last_name    = "Nolan"
  email        = "resident@example.com"
  residence    = residence.flat
  app          = true
  ring_timeout = "10m" # ERROR: Duration out of range
}

device "door" {
  model = "akuvox-r20k"
  mac   = "0C:11:05:00:00:01"
  button "1" { calls = residence.flat }
  relay "a" {
    dtmf = "1"
    hold = "90s" # ERROR: Duration out of range
  }
  relay "b" {
    dtmf = "2"
    hold = "500ms" # ERROR: Duration out of range
  }
}
