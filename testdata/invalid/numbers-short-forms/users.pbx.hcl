user "aoife" { # WARNING: User with no endpoint
  first_name = "Aoife"
  last_name  = "Farrell"
  email      = "aoife@example.com"
  extension  = 102
}

user "mary" { # WARNING: User with no endpoint
  first_name = "Mary"
  last_name  = "Farrell"
  email      = "mary@example.com"
  extension  = 101
  numbers = [
    "+35315550101", # her own extension: not a clash
    "+35315550102", # ERROR: Duplicate number
    "+35315550112", # ERROR: Emergency number
  ]
}
