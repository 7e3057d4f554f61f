user "mary" {
  email   = "mary@example.com"
  numbers = ["+35315550100", "+35315550999"] # ERROR: Number not in a trunk's pool
}

user "sean" {
  email   = "sean@example.com"
  numbers = ["+35315550100"] # ERROR: Number assigned twice
}

user "aoife" {
  email   = "aoife@example.com"
  numbers = ["01 555 0101"] # ERROR: Invalid phone number
}
