residence "flat" {}

user "resident" {
  first_name = "Liam"
  last_name  = "Nolan"
  email      = "resident@example.com"
  residence  = residence.flat
  app        = true
}

device "gate" {
  model = "akuvox-r20k"
  mac   = "0C:11:05:00:00:01"
  button "1" { calls = residence.flat }
  relay "a" { dtmf = "12a" }       # ERROR: Invalid DTMF code
  relay "b" { dtmf = "#" }
  relay "c" { dtmf = "#" }         # ERROR: Duplicate DTMF code
  relay "d" { dtmf = "123456789" } # ERROR: Invalid DTMF code # WARNING: More relays than the model has
}

device "door" {
  model = "akuvox-e12w"
  mac   = "0C:11:05:00:00:02"
  button "1" { calls = residence.flat }
  relay "a" { dtmf = "12345" } # WARNING: DTMF code too long for model
  relay "b" { dtmf = "1234" }  # WARNING: Overlapping DTMF codes # WARNING: More relays than the model has
}
