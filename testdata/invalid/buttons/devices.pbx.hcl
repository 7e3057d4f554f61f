residence "flat" {}

user "resident" {
  first_name = "Liam"
  last_name  = "Nolan"
  email      = "resident@example.com"
  residence  = residence.flat
  app        = true
}

user "caretaker" {
  first_name = "Niall"
  last_name  = "Ryan"
  email      = "caretaker@example.com"
}

device "gate" {
  model  = "akuvox-e12w"
  mac    = "0C:11:05:00:00:01"
  keypad = true # WARNING: Model has no keypad
  button "1" { calls = residence.flat }
  button "2" { calls = residence.flat } # WARNING: Button beyond model
  button "A" { calls = residence.flat } # ERROR: Invalid button label
  button "0" { calls = residence.flat } # ERROR: Invalid button label
  button "01" { calls = user.caretaker } # ERROR: Invalid button label # WARNING: User cannot answer
}
