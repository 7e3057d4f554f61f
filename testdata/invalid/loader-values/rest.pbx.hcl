residence "apt-1a" {
  ring      = "parallel" # ERROR: Invalid value
  no_answer = "voice"    # ERROR: Invalid value
}

user "mary" {
  first_name = "Mary"
  last_name  = "Farrell"
  email      = "mary@example.com"
  role       = "onwer"          # ERROR: Invalid value
  residence  = residence.apt-1  # ERROR: Reference to undeclared residence
  app        = true
}

device "gate" {
  model = "akuvox-e12w"
  mac   = "0C:11:05:00:00:01"
  button "1" { calls = residence.apt-1a }
  button "1" { calls = residence.apt-1a } # ERROR: Duplicate button
}

device "monitor" {
  model     = "akuvox-c315"
  mac       = "0C:11:05:00:00:02"
  residence = residence.apt-1a
}
