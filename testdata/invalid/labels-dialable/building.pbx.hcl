# A door station dials a residence's label: one a SIP address cannot
# carry as it is would never arrive.
residence "flat-1" { label = "Flat 1" } # ERROR: Residence label not dialable
residence "flat-2" { label = "Árasán" } # ERROR: Residence label not dialable
residence "flat-3" { label = "3-B" }
residence "flat-4" {}                   # the label defaults to the name
residence "flat-5" { label = "5 A" }    # no door station calls it

user "u1" {
  first_name = "Eileen"
  last_name  = "Carroll"
  email      = "u1@example.com"
  residence  = residence.flat-1
  app        = true
}
user "u2" {
  first_name = "Una"
  last_name  = "Kelly"
  email      = "u2@example.com"
  residence  = residence.flat-2
  app        = true
}
user "u3" {
  first_name = "Ciara"
  last_name  = "Lynch"
  email      = "u3@example.com"
  residence  = residence.flat-3
  app        = true
}
user "u4" {
  first_name = "Ita"
  last_name  = "Quinn"
  email      = "u4@example.com"
  residence  = residence.flat-4
  app        = true
}
user "u5" {
  first_name = "Fiona"
  last_name  = "Brennan"
  email      = "u5@example.com"
  residence  = residence.flat-5
  app        = true
}

device "entrance" {
  model = "akuvox-x916"
  mac   = "0C:11:05:00:00:02"
  button "1" { calls = residence.flat-1 }
  button "2" { calls = residence.flat-2 }
  button "3" { calls = residence.flat-3 }
  button "4" { calls = residence.flat-4 }
}
