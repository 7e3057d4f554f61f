user "owner" {
  email = "owner@example.com"
  role  = "owner"
  app   = true
}

        user "mary" {
          email      = "mary@example.com"
          extension  = 101
          conference = 8000 # ERROR: Duplicate number
        }

        user "sean" {
          email     = "sean@example.com"
          extension = 101 # ERROR: Duplicate extension
        }

        user "aoife" {
          email      = "aoife@example.com"
          conference = 101 # ERROR: Duplicate number
        }

        user "tom" {
          email      = "tom@example.com"
          conference = "*8101" # ERROR: Invalid conference room
        }
