# Calls out from users without a number of their own present the first
# number of the first trunk by name ("a-carrier", not "b-carrier").
trunk "b-carrier" {
  host    = "sip.other.example"
  numbers = ["+35315550000"]
}

trunk "a-carrier" {
  host    = "sip.carrier.example"
  numbers = ["+35315550102", "+35315550100", "+35315550101"]
}

residence "lobby" {}
residence "flat-1" {}
residence "flat-2" {}

user "concierge" {
  first_name = "Roisin"
  last_name  = "Lynch"
  email      = "concierge@example.com"
  residence  = residence.lobby
  app        = true
  numbers    = ["+35315550101", "+35315550100"] # WARNING: Residents present another's number
}

# Of the concierge's household: presenting the number is not a surprise.
user "porter" {
  first_name = "Helen"
  last_name  = "Burke"
  email      = "porter@example.com"
  residence  = residence.lobby
  app        = true
}

# Residents of other households with an app and no number present it.
user "anna" {
  first_name = "Anna"
  last_name  = "Keane"
  email      = "anna@example.com"
  residence  = residence.flat-1
  app        = true
}

user "ben" {
  first_name = "Ben"
  last_name  = "Lynch"
  email      = "ben@example.com"
  residence  = residence.flat-2
  app        = true
}

# A number of her own: she presents it.
user "cora" {
  first_name = "Cora"
  last_name  = "Burke"
  email      = "cora@example.com"
  residence  = residence.flat-2
  app        = true
  numbers    = ["+35315550102"]
}

# No endpoint: she cannot call out.
user "dora" {
  first_name = "Dora"
  last_name  = "Lynch"
  email      = "dora@example.com"
  residence  = residence.flat-2
}

# Office staff (no residence) presenting the main number is usual.
user "clerk" {
  first_name = "Clerk"
  last_name  = "Ryan"
  email      = "clerk@example.com"
  app        = true
}
