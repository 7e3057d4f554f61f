residence "a" { label = "1A" }
residence "b" { label = "1a" } # ERROR: Duplicate residence label
residence "c" { label = "2B" }
residence "d" { label = "2B" } # ERROR: Duplicate residence label

user "ua" {
  first_name = "Niall"
  last_name  = "Doyle"
  email      = "ua@example.com"
  residence  = residence.a
  app        = true
}
user "ub" {
  first_name = "Maeve"
  last_name  = "Burke"
  email      = "ub@example.com"
  residence  = residence.b
  app        = true
}
user "uc" {
  first_name = "Eileen"
  last_name  = "Kelly"
  email      = "uc@example.com"
  residence  = residence.c
  app        = true
}
user "ud" {
  first_name = "Sinead"
  last_name  = "Brennan"
  email      = "ud@example.com"
  residence  = residence.d
  app        = true
}

# Two keypad panels reach every residence: each clash is reported once.
device "entrance" {
  model  = "akuvox-r20k"
  mac    = "0C:11:05:00:00:01"
  keypad = true
}

device "back-door" {
  model  = "akuvox-r20k"
  mac    = "0C:11:05:00:00:02"
  keypad = true
}

