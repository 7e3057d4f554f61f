user "mary" {
  email  = "mary@example.com"
  mobile = "+353871234567"
}

user "sean" {
  email  = "sean@example.com"
  mobile = "+353871234567" # ERROR: Duplicate mobile number
}

user "aoife" {
  email  = "aoife@example.com"
  mobile = "+353 87 765 4321" # ERROR: Invalid phone number
}

user "tom" {
  email  = "tom@example.com"
  mobile = "0871112222" # ERROR: Invalid phone number
}
